//! `GET /pricing`: the effective price table in USD per million tokens, in match order, and
//! how one model resolves against it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[macro_use]
mod common;

app_test!(
    the_price_table_lists_entries_in_match_order_and_resolves_models,
    |app| {
        let (_, t) = app.user("erin").await;
        let r = app.pricing(&t, "").await.expect(200);
        assert_eq!(
            (r.body["currency"].as_str(), r.body["unit"].as_str()),
            (Some("USD"), Some("per_million_tokens"))
        );
        let cfg = &app.state.config.pricing;
        let models = r.body["models"].as_array().unwrap();
        assert_eq!(models.len(), cfg.models.len());
        let mut seen_glob = false;
        let mut last_specificity = usize::MAX;
        for m in models {
            let p = m["pattern"].as_str().unwrap();
            let price = &cfg.models[p];
            assert_eq!(m["input"].as_f64().unwrap(), price.input);
            assert_eq!(m["output"].as_f64().unwrap(), price.output);
            assert_eq!(m["cache_write_1h"].as_f64().unwrap(), price.cache_write_1h);
            let glob = p.contains('*');
            assert_eq!(m["match"], if glob { "glob" } else { "exact" });
            assert!(glob || !seen_glob, "exact ids come first");
            if glob {
                let s = p.chars().filter(|&c| c != '*').count();
                assert!(
                    !seen_glob || s <= last_specificity,
                    "most specific glob first"
                );
                last_specificity = s;
                seen_glob = true;
            }
        }
        assert_eq!(
            r.body["default"]["input"].as_f64().unwrap(),
            cfg.default.input
        );
        assert!(r.body.get("resolved").is_none());

        let r = app
            .pricing(&t, "?model=claude-sonnet-4-5-20990101")
            .await
            .expect(200);
        assert_eq!(r.body["resolved"]["matched"], "glob");
        assert_eq!(r.body["resolved"]["pattern"], "claude-sonnet-4-5*");
        assert_eq!(r.body["resolved"]["input"].as_f64(), Some(3.0));
        let r = app.pricing(&t, "?model=gpt-unknown").await.expect(200);
        assert_eq!(r.body["resolved"]["matched"], "default");
        assert!(r.body["resolved"]["pattern"].is_null());

        let r = app
            .send(
                reqwest::Method::GET,
                "/pricing",
                None,
                common::Opts::default(),
            )
            .await;
        assert_eq!(r.expect(401).code(), "unauthorized");
    }
);
