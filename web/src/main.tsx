import { render } from "solid-js/web";
import "./styles.css";
import { App } from "./ui/App";
import { startSession, tokens } from "./app/store";
import { registerServiceWorker } from "./app/pwa";

const root = document.getElementById("app")!;
root.replaceChildren();
render(() => <App />, root);
void startSession(tokens.session);
registerServiceWorker();
