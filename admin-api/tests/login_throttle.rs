//! Login throttling and password hashing under load (issue 12, item 4): an attempt takes its
//! throttle slot before the hash, so concurrent guesses check at most the limit; failures
//! count per (user, client IP) with a per-IP ceiling, so the owner elsewhere still gets in;
//! forwarded addresses count only from trusted proxies; a disabled user's answer does not
//! depend on the password; every hash runs under the concurrency cap. Evidence is counted
//! (the hasher's counters), never timed.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

use common::{Resp, TestApp, ADMIN_PASSWORD};
use futures_util::future::join_all;
use serde_json::json;

fn hashes(app: &TestApp) -> u64 {
    app.state.hasher.stats().runs
}

fn count(rs: &[Resp], status: u16) -> usize {
    rs.iter().filter(|r| r.status == status).count()
}

app_test!(
    sixty_concurrent_wrong_passwords_check_ten_and_the_owner_elsewhere_still_gets_in,
    |app| {
        let attacker = Some("198.51.100.20");
        let before = hashes(&app);
        let rs =
            join_all((0..60).map(|_| app.login_from("admin", "wrong-password", attacker))).await;
        assert_eq!((count(&rs, 401), count(&rs, 429)), (10, 50), "{rs:?}");
        assert_eq!(
            hashes(&app) - before,
            10,
            "the refused attempts ran no hash"
        );
        let r = rs.iter().find(|r| r.status == 429).unwrap();
        assert_eq!(r.code(), "too_many_attempts");
        let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=15 * 60).contains(&retry), "{retry}");

        // The attacker's address is locked for this user, even with the right password...
        let before = hashes(&app);
        app.login_from("admin", ADMIN_PASSWORD, attacker)
            .await
            .expect(429);
        assert_eq!(hashes(&app), before);
        // ...but the owner, from their own address, is not.
        app.login_from("admin", ADMIN_PASSWORD, Some("203.0.113.1"))
            .await
            .expect(200);
    }
);

app_test!(
    one_address_is_refused_past_its_ceiling_whatever_the_user,
    config = |c| {
        c.auth.max_failed_logins = 3;
        c.auth.max_failed_logins_per_ip = 5;
    },
    |app| {
        let ip = Some("192.0.2.10");
        for i in 0..5 {
            app.login_from(&format!("guess{i}"), "wrong-password", ip)
                .await
                .expect(401);
        }
        let r = app
            .login_from("admin", ADMIN_PASSWORD, ip)
            .await
            .expect(429);
        assert_eq!(r.code(), "too_many_attempts");
        app.login_from("admin", ADMIN_PASSWORD, Some("192.0.2.11"))
            .await
            .expect(200);

        // Below the ceiling, only the (user, address) pair is locked.
        let other = Some("192.0.2.12");
        for _ in 0..3 {
            app.login_from("admin", "wrong-password", other)
                .await
                .expect(401);
        }
        app.login_from("admin", ADMIN_PASSWORD, other)
            .await
            .expect(429);
        app.login_from("nobody", "wrong-password", other)
            .await
            .expect(401);
    }
);

app_test!(
    forwarded_addresses_count_only_when_the_hop_is_a_trusted_proxy,
    config = |c| {
        c.auth.max_failed_logins = 3;
        c.auth.trusted_proxies = vec!["10.0.0.0/24".into()];
    },
    |app| {
        // As the front door sends it: `x-real-ip` is who connected to it, the
        // `x-relay-*` headers what that hop forwarded.
        let via = |hop: &'static str, client: &'static str| {
            [("x-real-ip", hop), ("x-relay-forwarded-for", client)]
        };
        for _ in 0..3 {
            app.login_via(
                "admin",
                "wrong-password",
                &via("10.0.0.5", "6.6.6.6, 198.51.100.7"),
            )
            .await
            .expect(401);
        }
        // The same client through another trusted proxy is the same client.
        app.login_via("admin", ADMIN_PASSWORD, &via("10.0.0.9", "198.51.100.7"))
            .await
            .expect(429);
        // Another client behind the same proxy is not locked out.
        app.login_via("admin", ADMIN_PASSWORD, &via("10.0.0.5", "198.51.100.8"))
            .await
            .expect(200);
        // An untrusted hop that claims to forward for the locked client is itself the client...
        app.login_via("admin", ADMIN_PASSWORD, &via("192.0.2.50", "198.51.100.7"))
            .await
            .expect(200);
        // ...and changing its claim does not spread its failures.
        for claim in ["198.51.100.30", "198.51.100.31", "198.51.100.32"] {
            app.login_via("admin", "wrong-password", &via("192.0.2.50", claim))
                .await
                .expect(401);
        }
        app.login_via("admin", ADMIN_PASSWORD, &via("192.0.2.50", "198.51.100.33"))
            .await
            .expect(429);
    }
);

app_test!(
    a_disabled_user_gets_the_wrong_password_answer_after_the_same_hash,
    |app| {
        let admin = app.admin_token().await;
        let (id, _) = app.user("frank").await;
        app.update_user(&admin, id, json!({ "enabled": false }))
            .await
            .expect(200);

        let mut answers = Vec::new();
        for (user, password, ip) in [
            ("frank", "frank-own-pass", "198.51.100.1"),
            ("frank", "not-franks-pass", "198.51.100.2"),
            ("nobody-here", "whatever-pass", "198.51.100.3"),
            ("admin", "wrong-password", "198.51.100.4"),
        ] {
            let before = hashes(&app);
            let r = app.login_from(user, password, Some(ip)).await;
            assert_eq!(hashes(&app) - before, 1, "{user}/{password} ran one hash");
            answers.push((r.status, r.body.clone()));
        }
        assert_eq!(answers[0].0, 401);
        assert_eq!(answers[0].1["error"]["code"], "invalid_credentials");
        for a in &answers[1..] {
            assert_eq!(a, &answers[0]);
        }
    }
);

app_test!(
    two_hundred_concurrent_logins_hash_under_the_cap,
    config = |c| {
        c.auth.max_concurrent_hashes = 2;
    },
    |app| {
        let before = hashes(&app);
        let names: Vec<String> = (0..200).map(|i| format!("ghost{i}")).collect();
        let ips: Vec<String> = (0..200)
            .map(|i| format!("198.18.{}.{}", i / 100, i % 100))
            .collect();
        let rs = join_all(
            names
                .iter()
                .zip(&ips)
                .map(|(n, ip)| app.login_from(n, "wrong-password", Some(ip))),
        )
        .await;
        assert_eq!(count(&rs, 401), 200);
        let s = app.state.hasher.stats();
        assert_eq!(s.runs - before, 200, "every attempt was checked");
        assert_eq!(s.cap, 2);
        assert!(
            (1..=2).contains(&s.peak),
            "at most two hashes at once: {s:?}"
        );
    }
);

app_test!(
    every_password_hash_goes_through_the_capped_hasher,
    config = |c| {
        c.auth.allow_registration = true;
        c.auth.max_failed_logins = 2;
    },
    |app| {
        let admin = app.admin_token().await;
        let mut step = hashes(&app);
        let mut ran = |app: &TestApp| {
            let now = hashes(app);
            let n = now - step;
            step = now;
            n
        };
        app.register(json!({ "username": "gina", "password": "gina-pass-123" }))
            .await
            .expect(201);
        assert_eq!(ran(&app), 1, "register");
        let r = app
            .create_user(
                &admin,
                json!({ "username": "hank", "password": "hank-given-pass" }),
            )
            .await
            .expect(201);
        assert_eq!(ran(&app), 1, "user create");
        app.reset_password(&admin, r.id(), "hank-reset-pass")
            .await
            .expect(200);
        assert_eq!(ran(&app), 1, "reset");
        let t = app.login("gina", "gina-pass-123").await.expect(200);
        let t = t.body["token"].as_str().unwrap().to_string();
        assert_eq!(ran(&app), 1, "login");
        app.change_password(&t, "gina-pass-123", "gina-pass-456")
            .await
            .expect(200);
        assert_eq!(ran(&app), 2, "password change: check the old, hash the new");

        // A wrong old password is a failed sign-in of that user from that address.
        let t = app.login("gina", "gina-pass-456").await.expect(200);
        let t = t.body["token"].as_str().unwrap().to_string();
        for _ in 0..2 {
            let r = app
                .change_password(&t, "not-it-at-all", "gina-pass-789")
                .await
                .expect(400);
            assert_eq!(r.field(), "old_password");
        }
        ran(&app);
        let r = app
            .change_password(&t, "gina-pass-456", "gina-pass-789")
            .await
            .expect(429);
        assert_eq!(r.code(), "too_many_attempts");
        assert_eq!(ran(&app), 0);
    }
);
