//! The seed frames (`auth`, `auth_2fa`, `message`, `history`, `sync`, `ping`) and
//! the replay that `sync` and `auth` with `since` start.

use crate::login::{Authn, auth_success, authenticate, finish_auth, session_reply};
use crate::{Conn, Outcome};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use sova_service::messages::SendParams;
use sova_types::ApiError;
use sova_types::event::Shared;
use sova_types::frames::{ClientFrame, ServerFrame};

impl Conn {
    pub(crate) fn dispatch(
        &mut self,
        frame: ClientFrame,
        re: Option<String>,
    ) -> Result<BoxFuture<'static, Outcome>, (ApiError, Option<String>)> {
        let services = self.gw.services.clone();
        match frame {
            ClientFrame::Ping { .. } => Ok(async move { Outcome::Reply(Some(ServerFrame::Pong { re })) }.boxed()),
            ClientFrame::Auth {
                username,
                password,
                token,
                since,
                device_id,
                captcha,
                ..
            } => {
                let client = self.client(device_id, captcha);
                let current = self.user.clone();
                Ok(async move {
                    match authenticate(&services, username, password, token, re.clone(), &client).await {
                        Ok(Authn::Done(user, token, reply)) => {
                            finish_auth(&services, current, user, token, *reply, since, re).await
                        }
                        Ok(Authn::SecondFactor(ticket)) => {
                            Outcome::Reply(Some(ServerFrame::Auth2faRequired { re, ticket }))
                        }
                        Err(e) => Outcome::Error(e, re),
                    }
                }
                .boxed())
            }
            ClientFrame::Auth2fa {
                ticket,
                code,
                since,
                device_id,
                ..
            } => {
                let client = self.client(device_id, None);
                let current = self.user.clone();
                Ok(async move {
                    let done = async {
                        let pair = services.auth.login_2fa(&ticket, &code, &client).await?;
                        let user = services.auth.authenticate(&pair.token).await?;
                        Ok::<_, ApiError>((user, pair.token.clone(), session_reply(pair, re.clone())))
                    };
                    match done.await {
                        Ok((user, token, reply)) => {
                            finish_auth(&services, current, user, token, reply, since, re).await
                        }
                        Err(e) => Outcome::Error(e, re),
                    }
                }
                .boxed())
            }
            ClientFrame::Message {
                token: Some(ref token), ..
            } if self.token.as_deref() != Some(token.as_str()) => {
                // Seed style: the token rides on the message. Authenticate, then send.
                let token = token.clone();
                let current = self.user.clone();
                let then = Box::new(frame);
                Ok(async move {
                    match services.auth.authenticate(&token).await {
                        Ok(user) => {
                            if let Some(cur) = current
                                && cur.user_id != user.user_id
                            {
                                return Outcome::Error(ApiError::forbidden("token belongs to another user"), re);
                            }
                            let reply = auth_success(&user, token.clone(), None, None);
                            match services.chats.chats_of(user.user_id).await {
                                Ok(chats) => Outcome::Authed {
                                    user,
                                    token,
                                    chats,
                                    reply,
                                    since: None,
                                    then: Some(then),
                                    baseline: services.messages.last_seq().await.unwrap_or(0),
                                },
                                Err(e) => Outcome::Error(e, re),
                            }
                        }
                        Err(e) => Outcome::Error(e, re),
                    }
                }
                .boxed())
            }
            _ if self.user.is_none() => Err((ApiError::unauthorized("authenticate first with an auth frame"), re)),
            ClientFrame::Message {
                chat_id,
                text,
                client_msg_id,
                reply_to,
                files,
                ..
            } => {
                let user = self.user.clone();
                Ok(async move {
                    let Some(user) = user else {
                        return Outcome::Error(ApiError::unauthorized("not authenticated"), re);
                    };
                    let ack = client_msg_id.is_some() || re.is_some();
                    let params = SendParams {
                        chat: chat_id,
                        text: text.unwrap_or_default(),
                        reply_to,
                        forward_of: None,
                        client_msg_id,
                        files,
                        ..SendParams::default()
                    };
                    match services.messages.send_with(&user, params).await {
                        Ok(m) if ack => Outcome::Reply(Some(ServerFrame::Ack {
                            re,
                            message_id: m.id,
                            chat_id: m.chat_id,
                            chat_seq: m.chat_seq,
                            seq: m.seq,
                            timestamp: m.timestamp,
                            client_msg_id: m.client_msg_id,
                        })),
                        Ok(_) => Outcome::Reply(None),
                        Err(e) => Outcome::Error(e, re),
                    }
                }
                .boxed())
            }
            ClientFrame::History {
                chat_id, limit, before, ..
            } => {
                let user = self.user.clone();
                Ok(async move {
                    let Some(user) = user else {
                        return Outcome::Error(ApiError::unauthorized("not authenticated"), re);
                    };
                    match services
                        .messages
                        .history(&user, chat_id, before, limit.unwrap_or(50))
                        .await
                    {
                        Ok((chat_id, messages)) => Outcome::Reply(Some(ServerFrame::History { re, chat_id, messages })),
                        Err(e) => Outcome::Error(e, re),
                    }
                }
                .boxed())
            }
            ClientFrame::Sync { since, .. } => {
                if since < 0 {
                    return Err((ApiError::bad_request("since must be >= 0"), re));
                }
                self.replaying = true;
                Ok(self.replay_page(since, re))
            }
        }
    }

    pub(crate) fn replay_page(&self, since: i64, re: Option<String>) -> BoxFuture<'static, Outcome> {
        let services = self.gw.services.clone();
        let user = self.user.clone();
        async move {
            let Some(user) = user else {
                return Outcome::Error(ApiError::unauthorized("not authenticated"), re);
            };
            let page = sova_service::messages::REPLAY_PAGE;
            match services.messages.since(&user, since, page).await {
                Ok(events) => {
                    let more = events.len() as i64 >= page;
                    let until = match events.last() {
                        Some(e) => e.seq(),
                        // Never report a position beyond what exists: a too-high `since`
                        // must not make later pushes look already delivered.
                        None => match services.messages.last_seq().await {
                            Ok(last) => since.min(last),
                            Err(e) => return Outcome::Error(e, re),
                        },
                    };
                    let frames = events.into_iter().map(Shared::new).collect();
                    Outcome::Replay {
                        re,
                        frames,
                        more,
                        until,
                    }
                }
                Err(e) => Outcome::Error(e, re),
            }
        }
        .boxed()
    }
}
