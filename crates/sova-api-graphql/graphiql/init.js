// Mounts GraphiQL on /graphql (queries and mutations over HTTP, subscriptions over
// graphql-transport-ws on the same path). The token goes in the Headers tab:
// {"Authorization": "Bearer <token>"}; it is not persisted.
(function () {
  var http = new URL("/graphql", window.location.href).href;
  var ws = (window.location.protocol === "https:" ? "wss://" : "ws://") + window.location.host + "/graphql";
  var fetcher = GraphiQL.createFetcher({ url: http, subscriptionUrl: ws });
  var defaultQuery =
    "# Sova's GraphQL API: every operation of the registry.\n" +
    "# Log in with the `login` mutation, then put {\"Authorization\": \"Bearer <token>\"} in Headers.\n" +
    "query Me {\n  me { user_id username }\n}\n";
  ReactDOM.createRoot(document.getElementById("graphiql")).render(
    React.createElement(GraphiQL, {
      fetcher: fetcher,
      defaultQuery: defaultQuery,
      defaultEditorToolsVisibility: "headers",
      shouldPersistHeaders: false,
    })
  );
})();
