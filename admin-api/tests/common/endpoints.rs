//! One `TestApp` method per endpoint of the admin API.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use reqwest::Method;
use serde_json::{json, Value};

use super::{Opts, Resp, TestApp, ADMIN_PASSWORD};
use relay_shared::db::settings;

impl TestApp {
    // ---- auth ----

    /// `POST /auth/login`.
    pub async fn login(&self, username: &str, password: &str) -> Resp {
        self.login_from(username, password, None).await
    }

    /// `POST /auth/login` from a given client IP.
    pub async fn login_from(&self, username: &str, password: &str, ip: Option<&str>) -> Resp {
        let body = json!({ "username": username, "password": password });
        self.send(
            Method::POST,
            "/auth/login",
            Some(body),
            Opts {
                ip,
                ..Default::default()
            },
        )
        .await
    }

    /// `POST /auth/login` with extra request headers (as the front door would send them).
    pub async fn login_via(
        &self,
        username: &str,
        password: &str,
        headers: &[(&str, &str)],
    ) -> Resp {
        let body = json!({ "username": username, "password": password });
        self.send(
            Method::POST,
            "/auth/login",
            Some(body),
            Opts {
                headers,
                ..Default::default()
            },
        )
        .await
    }

    /// A token of the first admin.
    pub async fn admin_token(&self) -> String {
        let r = self.login("admin", ADMIN_PASSWORD).await.expect(200);
        r.body["token"].as_str().unwrap().to_string()
    }

    /// `POST /auth/logout`.
    pub async fn logout(&self, token: &str) -> Resp {
        self.post("/auth/logout", token, json!({})).await
    }

    /// `POST /auth/logout-all`.
    pub async fn logout_all(&self, token: &str) -> Resp {
        self.post("/auth/logout-all", token, json!({})).await
    }

    /// `POST /auth/register`.
    pub async fn register(&self, body: Value) -> Resp {
        if let Some(p) = body["password"].as_str() {
            self.remember_secret(p);
        }
        self.send(Method::POST, "/auth/register", Some(body), Opts::default())
            .await
    }

    // ---- the signed-in user ----

    /// `GET /user/profile`.
    pub async fn profile(&self, token: &str) -> Resp {
        self.get("/user/profile", token).await
    }

    /// `PUT /user/profile`.
    pub async fn update_profile(&self, token: &str, body: Value) -> Resp {
        self.put("/user/profile", token, body).await
    }

    /// `PUT /user/password`.
    pub async fn change_password(&self, token: &str, old: &str, new: &str) -> Resp {
        self.remember_secret(new);
        let body = json!({ "old_password": old, "new_password": new });
        self.put("/user/password", token, body).await
    }

    // ---- admin: users ----

    /// `GET /admin/users?…`.
    pub async fn list_users(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/admin/users{query}"), token).await
    }

    /// `POST /admin/users`.
    pub async fn create_user(&self, token: &str, body: Value) -> Resp {
        if let Some(p) = body["password"].as_str() {
            self.remember_secret(p);
        }
        self.post("/admin/users", token, body).await
    }

    /// `PUT /admin/users/{id}`.
    pub async fn update_user(&self, token: &str, id: i64, body: Value) -> Resp {
        self.put(&format!("/admin/users/{id}"), token, body).await
    }

    /// `DELETE /admin/users/{id}`.
    pub async fn delete_user(&self, token: &str, id: i64) -> Resp {
        self.delete(&format!("/admin/users/{id}"), token).await
    }

    /// `POST /admin/users/{id}/reset-password`.
    pub async fn reset_password(&self, token: &str, id: i64, password: &str) -> Resp {
        self.remember_secret(password);
        let body = json!({ "password": password });
        self.post(&format!("/admin/users/{id}/reset-password"), token, body)
            .await
    }

    /// A `user` created by the admin who has done the forced password change: (id, token).
    pub async fn user(&self, name: &str) -> (i64, String) {
        let admin = self.admin_token().await;
        let first = format!("{name}-first-pass");
        let body = json!({ "username": name, "password": first, "role": "user" });
        let id = self.create_user(&admin, body).await.expect(201).id();
        let r = self.login(name, &first).await.expect(200);
        let t = r.body["token"].as_str().unwrap().to_string();
        let r = self
            .change_password(&t, &first, &format!("{name}-own-pass"))
            .await
            .expect(200);
        (id, r.body["token"].as_str().unwrap().to_string())
    }

    // ---- groups ----

    /// `GET /groups?…`.
    pub async fn list_groups(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/groups{query}"), token).await
    }

    /// `POST /groups`.
    pub async fn create_group(&self, token: &str, body: Value) -> Resp {
        self.post("/groups", token, body).await
    }

    /// `GET /groups/{id}`.
    pub async fn get_group(&self, token: &str, id: i64) -> Resp {
        self.get(&format!("/groups/{id}"), token).await
    }

    /// `PUT /groups/{id}`.
    pub async fn update_group(&self, token: &str, id: i64, body: Value) -> Resp {
        self.put(&format!("/groups/{id}"), token, body).await
    }

    /// `DELETE /groups/{id}`.
    pub async fn delete_group(&self, token: &str, id: i64) -> Resp {
        self.delete(&format!("/groups/{id}"), token).await
    }

    /// `GET /groups/{id}/members`.
    pub async fn list_members(&self, token: &str, id: i64) -> Resp {
        self.get(&format!("/groups/{id}/members"), token).await
    }

    /// `POST /groups/{id}/members`.
    pub async fn add_member(&self, token: &str, id: i64, body: Value) -> Resp {
        self.post(&format!("/groups/{id}/members"), token, body)
            .await
    }

    /// `DELETE /groups/{id}/members/{user_id}`.
    pub async fn remove_member(&self, token: &str, id: i64, user_id: i64) -> Resp {
        self.delete(&format!("/groups/{id}/members/{user_id}"), token)
            .await
    }

    // ---- API keys ----

    /// `GET /api-keys?…`.
    pub async fn list_keys(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/api-keys{query}"), token).await
    }

    /// `POST /api-keys`.
    pub async fn create_key(&self, token: &str, body: Value) -> Resp {
        self.post("/api-keys", token, body).await
    }

    /// `GET /api-keys/{id}`.
    pub async fn get_key(&self, token: &str, id: i64) -> Resp {
        self.get(&format!("/api-keys/{id}"), token).await
    }

    /// `PUT /api-keys/{id}`.
    pub async fn update_key(&self, token: &str, id: i64, body: Value) -> Resp {
        self.put(&format!("/api-keys/{id}"), token, body).await
    }

    /// `DELETE /api-keys/{id}`.
    pub async fn delete_key(&self, token: &str, id: i64) -> Resp {
        self.delete(&format!("/api-keys/{id}"), token).await
    }

    /// `POST /api-keys/{id}/regenerate`.
    pub async fn regenerate_key(&self, token: &str, id: i64) -> Resp {
        self.post(&format!("/api-keys/{id}/regenerate"), token, json!({}))
            .await
    }

    // ---- admin: accounts ----

    fn remember_account_secrets(&self, body: &Value) {
        for f in ["secret_key", "access_token", "refresh_token"] {
            if let Some(s) = body[f].as_str() {
                self.remember_secret(s);
            }
        }
        if let Some(p) = body["proxy_url"]
            .as_str()
            .and_then(|u| url::Url::parse(u).ok())
        {
            if let Some(pw) = p.password() {
                self.remember_secret(pw);
            }
        }
    }

    /// `GET /admin/accounts?…`.
    pub async fn list_accounts(&self, token: &str, query: &str) -> Resp {
        self.get(&format!("/admin/accounts{query}"), token).await
    }

    /// `POST /admin/accounts`.
    pub async fn create_account(&self, token: &str, body: Value) -> Resp {
        self.remember_account_secrets(&body);
        self.post("/admin/accounts", token, body).await
    }

    /// `GET /admin/accounts/{id}`.
    pub async fn get_account(&self, token: &str, id: i64) -> Resp {
        self.get(&format!("/admin/accounts/{id}"), token).await
    }

    /// `PUT /admin/accounts/{id}`.
    pub async fn update_account(&self, token: &str, id: i64, body: Value) -> Resp {
        self.remember_account_secrets(&body);
        self.put(&format!("/admin/accounts/{id}"), token, body)
            .await
    }

    /// `DELETE /admin/accounts/{id}`.
    pub async fn delete_account(&self, token: &str, id: i64) -> Resp {
        self.delete(&format!("/admin/accounts/{id}"), token).await
    }

    /// `POST /admin/accounts/{id}/{action}` (`enable`, `disable`, `reset`).
    pub async fn account_action(&self, token: &str, id: i64, action: &str) -> Resp {
        self.post(&format!("/admin/accounts/{id}/{action}"), token, json!({}))
            .await
    }

    // ---- misc ----

    /// `GET /openapi.json`.
    pub async fn openapi(&self) -> Resp {
        self.send(Method::GET, "/openapi.json", None, Opts::default())
            .await
    }

    /// The change version the proxies watch.
    pub async fn change_version(&self) -> i64 {
        settings::change_version(&self.db).await.unwrap()
    }
}
