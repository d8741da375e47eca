//! The web UI's account pages (issue 19): enrolling and disabling a second factor by clicking,
//! changing one's password, and the session's idle and absolute timeouts.

use chrono::NaiveDateTime;
use diesel::prelude::*;
use fantoccini::{Client, Locator};
use hwtransfer::auth::totp;
use hwtransfer::db;
use hwtransfer::db::schema::ui_sessions;

use crate::both_backends;
use crate::support::{Backend, PASSWORD, TestApp};
use crate::ui::{browser, cookie_from, logout, start_driver, submit_login};

/// A client that shows redirects rather than following them.
pub fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The text of the element with `id` in an HTML page (tags inside it dropped), if there.
pub fn element_text(html: &str, id: &str) -> Option<String> {
    let start = html.find(&format!("id=\"{id}\""))?;
    let open_end = start + html[start..].find('>')? + 1;
    let rest = &html[open_end..];
    let mut depth = 0usize;
    let mut out = String::new();
    let mut i = 0;
    while i < rest.len() {
        let r = &rest[i..];
        if r.starts_with("</") {
            if depth == 0 {
                break;
            }
            depth -= 1;
            i += r.find('>').map_or(r.len(), |e| e + 1);
        } else if r.starts_with('<') {
            depth += 1;
            i += r.find('>').map_or(r.len(), |e| e + 1);
        } else {
            let c = r.chars().next().unwrap();
            out.push(c);
            i += c.len_utf8();
        }
    }
    Some(out.trim().to_string())
}

/// Posts the login form as a browser at `address` would (behind the trusted harness proxy);
/// answers the status and the page's error message (empty when none).
pub async fn form_login_from(
    app: &TestApp,
    address: &str,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> (u16, String) {
    let client = no_redirects();
    let page = client.get(app.url("/ui/login")).send().await.unwrap();
    let cookie = cookie_from(&page, "hwt_login_csrf").expect("login CSRF cookie");
    let token = cookie.split_once('=').unwrap().1.to_string();
    let res = client
        .post(app.url("/ui/login"))
        .header("cookie", cookie)
        .header("x-forwarded-for", address)
        .form(&[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", password),
            ("totp", totp.unwrap_or_default()),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let body = res.text().await.unwrap();
    (status, element_text(&body, "login-error").unwrap_or_default())
}

/// Signs `username` in through the login form; answers the session cookie (`hwt_session=…`).
pub async fn session_of(app: &TestApp, username: &str) -> String {
    let client = no_redirects();
    let page = client.get(app.url("/ui/login")).send().await.unwrap();
    let cookie = cookie_from(&page, "hwt_login_csrf").expect("login CSRF cookie");
    let token = cookie.split_once('=').unwrap().1.to_string();
    let res = client
        .post(app.url("/ui/login"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", token.as_str()),
            ("username", username),
            ("password", PASSWORD),
            ("next", ""),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "signed in");
    cookie_from(&res, "hwt_session").expect("session cookie")
}

/// GET `path` with `session`: (status, Location, body).
async fn page(app: &TestApp, session: &str, path: &str, htmx: bool) -> (u16, String, String) {
    let mut req = no_redirects().get(app.url(path)).header("cookie", session);
    if htmx {
        req = req.header("hx-request", "true");
    }
    let res = req.send().await.unwrap();
    let status = res.status().as_u16();
    let location = res
        .headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    (status, location, res.text().await.unwrap())
}

/// Sets the open UI sessions' start and last use to `started` and `last_seen` ago.
async fn age_sessions(app: &TestApp, started: chrono::Duration, last_seen: chrono::Duration) {
    let now = db::db_now();
    app.state
        .db
        .run(move |conn| {
            diesel::update(ui_sessions::table.filter(ui_sessions::ended_at.is_null()))
                .set((
                    ui_sessions::started_at.eq(now - started),
                    ui_sessions::last_seen_at.eq(now - last_seen),
                ))
                .execute(conn)?;
            Ok(())
        })
        .await
        .unwrap();
}

/// (started_at, last_seen_at, ended_at) of every UI session.
async fn sessions(app: &TestApp) -> Vec<(NaiveDateTime, NaiveDateTime, Option<NaiveDateTime>)> {
    app.state
        .db
        .run(|conn| {
            Ok(ui_sessions::table
                .select((
                    ui_sessions::started_at,
                    ui_sessions::last_seen_at,
                    ui_sessions::ended_at,
                ))
                .order(ui_sessions::started_at.asc())
                .load(conn)?)
        })
        .await
        .unwrap()
}

async fn ui_sessions_end_when_idle_too_old_or_signed_out(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.add_user("cq", "regulator", Some("500000")).await;

    // A fresh session opens pages and is stored for every replica.
    let session = session_of(&app, "cq").await;
    assert_eq!(page(&app, &session, "/ui/queue", false).await.0, 200);
    assert_eq!(sessions(&app).await.len(), 1);

    // Unused for 16 minutes (the default idle limit is 15): the next page is the login, saying why.
    age_sessions(&app, chrono::Duration::minutes(20), chrono::Duration::minutes(16)).await;
    let (s, to, _) = page(&app, &session, "/ui/queue", false).await;
    assert_eq!((s, to.as_str()), (303, "/ui/login?next=%2Fui%2Fqueue&ended=idle"));
    assert!(sessions(&app).await[0].2.is_some(), "the session is ended in the store");
    let (s, _, body) = page(&app, "", &to, false).await;
    assert_eq!(s, 200);
    assert!(
        element_text(&body, "login-notice").is_some_and(|t| t.contains("由于长时间未操作")),
        "{body}"
    );
    // It stays ended.
    let (s, to, _) = page(&app, &session, "/ui/calendar", false).await;
    assert_eq!((s, to.as_str()), (303, "/ui/login?next=%2Fui%2Fcalendar"));

    // Used a moment ago but begun 9 hours ago (the default absolute limit is 8): ended too.
    let session = session_of(&app, "cq").await;
    age_sessions(&app, chrono::Duration::hours(9), chrono::Duration::minutes(1)).await;
    let (s, to, _) = page(&app, &session, "/ui/queue", false).await;
    assert_eq!((s, to.as_str()), (303, "/ui/login?next=%2Fui%2Fqueue&ended=absolute"));
    let (_, _, body) = page(&app, "", &to, false).await;
    assert!(
        element_text(&body, "login-notice").is_some_and(|t| t.contains("最长时限")),
        "{body}"
    );

    // A page's background refresh does not keep a session alive; a person's request does.
    let session = session_of(&app, "cq").await;
    age_sessions(&app, chrono::Duration::minutes(11), chrono::Duration::minutes(10)).await;
    assert_eq!(page(&app, &session, "/ui/queue/counts", true).await.0, 200);
    let last = sessions(&app).await.last().unwrap().1;
    assert!(
        db::db_now() - last >= chrono::Duration::minutes(10),
        "not touched by the refresh"
    );
    assert_eq!(page(&app, &session, "/ui/queue", false).await.0, 200);
    let last = sessions(&app).await.last().unwrap().1;
    assert!(
        db::db_now() - last < chrono::Duration::minutes(1),
        "touched by the page"
    );

    // Signing out ends the session in the store: its cookie opens nothing any more.
    let (_, _, body) = page(&app, &session, "/ui/queue", false).await;
    let csrf = regex_lite::Regex::new(r#"name="csrf" value="([0-9a-f]+)""#)
        .unwrap()
        .captures(&body)
        .unwrap()[1]
        .to_string();
    let res = no_redirects()
        .post(app.url("/ui/logout"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (s, to, _) = page(&app, &session, "/ui/queue", false).await;
    assert_eq!((s, to.as_str()), (303, "/ui/login?next=%2Fui%2Fqueue"));
    assert!(sessions(&app).await.iter().all(|s| s.2.is_some()));

    // Each end is a security event in the trail, with its reason.
    let trail = app
        .state
        .db
        .run(|conn| db::audit::events(conn, &Default::default(), None, 1000))
        .await
        .unwrap();
    let reasons: Vec<String> = trail
        .iter()
        .filter(|r| r.action == "ui_session_ended")
        .map(|r| r.diff.clone())
        .collect();
    for reason in ["idle", "absolute", "signed_out"] {
        assert!(reasons.iter().any(|d| d.contains(reason)), "{reason} in {reasons:?}");
    }
}
both_backends!(
    ui_sessions_end_when_idle_too_old_or_signed_out,
    ui_sessions_end_when_idle_too_old_or_signed_out
);

async fn text(c: &Client, id: &str) -> String {
    c.wait()
        .for_element(Locator::Id(id))
        .await
        .unwrap_or_else(|e| panic!("{id}: {e}"))
        .text()
        .await
        .unwrap()
}

async fn type_into(c: &Client, id: &str, text: &str) {
    let field = c.find(Locator::Id(id)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(text).await.unwrap();
}

async fn factor(app: &TestApp, user_id: &str) -> Option<db::second_factor::SecondFactorRow> {
    let id = user_id.to_string();
    app.state
        .db
        .run(move |conn| db::second_factor::factor_of(conn, &id))
        .await
        .unwrap()
}

/// Under `HWT_SECOND_FACTOR=required`, a regulator without a factor who signs in with the password
/// is led to the enrolment, sees the secret (and its QR code), types the first code, sees the ten
/// recovery codes once and is signed in; later signs in with a code, turns the factor off with a
/// recovery code, and changes the password by the rules.
async fn regulators_enrol_and_manage_their_account_in_the_browser(backend: Backend) {
    let app = TestApp::spawn_with(backend, |c| {
        c.second_factor = hwtransfer::config::SecondFactorMode::Required;
    })
    .await;
    let id = app.add_user("sc", "regulator", Some("510000")).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    c.goto(&app.url("/ui/login")).await.unwrap();
    submit_login(&c, "sc", None).await;

    // Led to the enrolment: only it opens with this session.
    c.wait()
        .for_element(Locator::Id("sf-start"))
        .await
        .expect("enrolment page");
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/second-factor");
    assert!(text(&c, "sf-required").await.contains("第二因素"));
    assert!(
        c.find(Locator::Css("nav a")).await.is_err(),
        "no other page in the menu"
    );
    c.goto(&app.url("/ui/queue")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().starts_with("/ui/login"));
    c.goto(&app.url("/ui/second-factor")).await.unwrap();
    c.wait()
        .for_element(Locator::Id("sf-start"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();

    // The secret as text, as an otpauth URI and as a QR code; pending in the store.
    let secret = text(&c, "sf-secret").await;
    assert_eq!(secret.len(), 32);
    let uri = text(&c, "sf-uri").await;
    assert!(
        uri.starts_with("otpauth://totp/hwtransfer:sc?") && uri.contains(&secret),
        "{uri}"
    );
    assert!(c.find(Locator::Css("#sf-qr svg")).await.is_ok(), "a QR code");
    let row = factor(&app, &id).await.expect("pending factor");
    assert_eq!((row.secret.as_str(), row.confirmed_at), (secret.as_str(), None));

    // A wrong code first: said so, nothing confirmed, the secret shown again.
    let good = totp::code_at(&secret, crate::accounts::now()).unwrap();
    type_into(&c, "sf-code", if good == "000000" { "111111" } else { "000000" }).await;
    c.find(Locator::Id("sf-confirm")).await.unwrap().click().await.unwrap();
    assert!(text(&c, "sf-error").await.contains("动态口令不正确"));
    assert_eq!(text(&c, "sf-secret").await, secret);
    assert!(factor(&app, &id).await.unwrap().confirmed_at.is_none());

    // The right code: ten recovery codes, once; then signed in.
    type_into(&c, "sf-code", &totp::code_at(&secret, crate::accounts::now()).unwrap()).await;
    c.find(Locator::Id("sf-confirm")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("recovery-codes")).await.unwrap();
    let mut codes = Vec::new();
    for li in c.find_all(Locator::Css(".recovery-code")).await.unwrap() {
        codes.push(li.text().await.unwrap());
    }
    assert_eq!(codes.len(), 10, "{codes:?}");
    assert!(factor(&app, &id).await.unwrap().confirmed_at.is_some());
    let left = app
        .state
        .db
        .run({
            let id = id.clone();
            move |conn| db::second_factor::recovery_codes_left(conn, &id)
        })
        .await
        .unwrap();
    assert_eq!(left, 10);
    c.find(Locator::Id("sf-continue")).await.unwrap().click().await.unwrap();
    c.wait().for_element(Locator::Id("logout")).await.unwrap();
    assert_eq!(c.current_url().await.unwrap().path(), "/ui/queue");
    logout(&c).await;

    // The next sign-in takes the code (the next step's: the first one counted once).
    let code = totp::code_at(&secret, crate::accounts::now() + 30).unwrap();
    submit_login(&c, "sc", Some(code.as_str())).await;
    c.wait()
        .for_element(Locator::Id("logout"))
        .await
        .expect("signed in with the code");

    // Turning it off takes a code: a recovery code here.
    c.find(Locator::Id("nav-second-factor"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    type_into(&c, "sf-disable-code", &codes[0]).await;
    c.find(Locator::Id("sf-disable")).await.unwrap().click().await.unwrap();
    assert!(text(&c, "sf-notice").await.contains("已停用"));
    assert!(factor(&app, &id).await.is_none());

    // The password: the rules are told, then a good one is taken.
    c.find(Locator::Id("nav-password"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.wait().for_element(Locator::Id("new_password")).await.unwrap();
    type_into(&c, "username", "sc").await;
    type_into(&c, "current_password", PASSWORD).await;
    type_into(&c, "new_password", "sc-password-only-lower").await;
    type_into(&c, "new_password_again", "sc-password-only-lower").await;
    c.find(Locator::Id("change")).await.unwrap().click().await.unwrap();
    assert!(text(&c, "password-problems").await.contains("至少三类"));
    type_into(&c, "username", "sc").await;
    type_into(&c, "current_password", PASSWORD).await;
    type_into(&c, "new_password", "Sc-new-password-1").await;
    type_into(&c, "new_password_again", "Sc-new-password-1").await;
    c.find(Locator::Id("change")).await.unwrap().click().await.unwrap();
    assert!(text(&c, "login-notice").await.contains("密码已修改"));
    let (s, _, _) = app
        .post_json(
            "/api/v1/auth/token",
            None,
            &serde_json::json!({"username": "sc", "password": "Sc-new-password-1"}),
        )
        .await;
    assert_eq!(s, 200, "the new password signs in");

    let trail = app
        .state
        .db
        .run(|conn| db::audit::events(conn, &Default::default(), None, 1000))
        .await
        .unwrap();
    for action in [
        "second_factor_enrolled",
        "recovery_code_used",
        "second_factor_disabled",
        "password_changed",
    ] {
        assert!(
            trail.iter().any(|r| r.object_id == id && r.action == action),
            "{action} in the trail"
        );
    }
    assert!(
        trail
            .iter()
            .any(|r| r.object_id == id && r.action == "login" && r.diff.contains("\"after\"")),
        "the sign-in after enrolling is in the trail"
    );
    assert!(trail.iter().all(|r| !r.diff.contains(&secret)));
    c.close().await.ok();
}
both_backends!(
    regulators_enrol_and_manage_their_account_in_the_browser,
    regulators_enrol_and_manage_their_account_in_the_browser
);
