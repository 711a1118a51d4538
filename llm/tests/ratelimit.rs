//! Rate limiters: the per-process bucket and the Redis one shared by two instances;
//! the Redis response cache seen from two workers.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::RedisServer;
use herd_llm::ratelimit::{RateLimits, acquire};
use herd_llm::{
    BackboneStats, CacheKey, CachedReply, LocalRateLimiter, RateLimiter, RedisRateLimiter,
    RedisResponseCache, ResponseCache,
};

/// `n` requests a minute, all of them allowed at once (a whole minute of burst).
fn rpm(n: u32) -> RateLimits {
    RateLimits {
        requests_per_minute: Some(n),
        tokens_per_minute: None,
        burst_secs: 60.0,
    }
}

#[tokio::test]
async fn local_limiter_grants_n_requests_per_window_then_asks_to_wait() {
    let l = LocalRateLimiter::new();
    for i in 0..5 {
        assert_eq!(
            l.try_acquire("k", &rpm(5), 0).await.unwrap(),
            None,
            "request {i} should pass"
        );
    }
    let wait = l
        .try_acquire("k", &rpm(5), 0)
        .await
        .unwrap()
        .expect("the 6th must wait");
    assert!(
        wait > Duration::from_secs(11) && wait <= Duration::from_secs(12),
        "{wait:?}"
    );
    // Another key has its own budget.
    assert_eq!(l.try_acquire("other", &rpm(5), 0).await.unwrap(), None);
}

#[tokio::test]
async fn local_limiter_counts_tokens_and_settles() {
    let l = LocalRateLimiter::new();
    let limits = RateLimits {
        requests_per_minute: None,
        tokens_per_minute: Some(1000),
        burst_secs: 60.0,
    };
    assert_eq!(l.try_acquire("k", &limits, 800).await.unwrap(), None);
    assert!(l.try_acquire("k", &limits, 300).await.unwrap().is_some());
    // The call used only 100 of its 800 estimated tokens.
    l.settle("k", &limits, -700).await.unwrap();
    assert_eq!(l.try_acquire("k", &limits, 300).await.unwrap(), None);
}

#[tokio::test]
async fn acquire_waits_for_the_budget_and_shows_it_in_stats() {
    let l = LocalRateLimiter::new();
    let limits = rpm(600); // one request every 100 ms once the minute's burst is spent
    for _ in 0..600 {
        assert_eq!(l.try_acquire("k", &limits, 0).await.unwrap(), None);
    }
    let stats = Arc::new(BackboneStats::new());
    let s2 = stats.clone();
    let watcher = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        s2.snapshot().waiting_rate_limit_now
    });
    let started = Instant::now();
    acquire(&l, "k", &limits, 0, &stats, "b").await.unwrap();
    assert!(
        started.elapsed() >= Duration::from_millis(90),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(
        watcher.await.unwrap(),
        1,
        "the wait was not visible in stats"
    );
    assert_eq!(stats.snapshot().waiting_rate_limit_now, 0);
}

#[tokio::test]
async fn two_redis_limiters_share_one_budget() {
    let redis = RedisServer::start().await;
    let a = RedisRateLimiter::connect(&redis.url)
        .await
        .unwrap()
        .with_prefix("t1");
    let b = RedisRateLimiter::connect(&redis.url)
        .await
        .unwrap()
        .with_prefix("t1");
    let limits = rpm(5);
    for _ in 0..3 {
        assert_eq!(a.try_acquire("backbone", &limits, 0).await.unwrap(), None);
    }
    for _ in 0..2 {
        assert_eq!(b.try_acquire("backbone", &limits, 0).await.unwrap(), None);
    }
    let wa = a
        .try_acquire("backbone", &limits, 0)
        .await
        .unwrap()
        .expect("budget is spent");
    let wb = b
        .try_acquire("backbone", &limits, 0)
        .await
        .unwrap()
        .expect("budget is spent");
    for w in [wa, wb] {
        assert!(
            w > Duration::from_secs(10) && w <= Duration::from_secs(12),
            "{w:?}"
        );
    }
    // Tokens too, with settling.
    let tl = RateLimits {
        requests_per_minute: None,
        tokens_per_minute: Some(1000),
        burst_secs: 60.0,
    };
    assert_eq!(a.try_acquire("tok", &tl, 900).await.unwrap(), None);
    assert!(b.try_acquire("tok", &tl, 200).await.unwrap().is_some());
    b.settle("tok", &tl, -500).await.unwrap();
    assert_eq!(a.try_acquire("tok", &tl, 200).await.unwrap(), None);
}

#[tokio::test]
async fn two_redis_limiters_share_one_burst_of_a_few_seconds() {
    let redis = RedisServer::start().await;
    let a = RedisRateLimiter::connect(&redis.url)
        .await
        .unwrap()
        .with_prefix("t2");
    let b = RedisRateLimiter::connect(&redis.url)
        .await
        .unwrap()
        .with_prefix("t2");
    // 60 a minute with the default 5 s burst: 5 requests at once between both workers.
    let limits = RateLimits {
        requests_per_minute: Some(60),
        ..RateLimits::default()
    };
    assert_eq!(limits.burst_secs, 5.0);
    let mut granted = 0;
    for i in 0..20 {
        let l = if i % 2 == 0 { &a } else { &b };
        if l.try_acquire("backbone", &limits, 0)
            .await
            .unwrap()
            .is_none()
        {
            granted += 1;
        }
    }
    assert_eq!(granted, 5);
    let wait = a
        .try_acquire("backbone", &limits, 0)
        .await
        .unwrap()
        .expect("the burst is spent");
    assert!(
        wait <= Duration::from_secs(1),
        "one request a second: {wait:?}"
    );
}

#[tokio::test]
async fn redis_response_cache_is_shared_between_workers() {
    let redis = RedisServer::start().await;
    let a = RedisResponseCache::connect(&redis.url).await.unwrap();
    let b = RedisResponseCache::connect(&redis.url)
        .await
        .unwrap()
        .with_ttl(60);
    let cfg: herd_core::config::BackboneConfig =
        toml::from_str("name = \"b\"\nmodel = \"m\"\nbase_url = \"http://x/v1\"").unwrap();
    let key = CacheKey::for_request(&cfg, "m", &common::request("q"));
    assert_eq!(b.get(&key).await.unwrap(), None);
    let reply = CachedReply {
        content: "answer".into(),
        prompt_tokens: 9,
        completion_tokens: 3,
        model: "m".into(),
    };
    a.put(&key, &reply).await.unwrap();
    assert_eq!(b.get(&key).await.unwrap(), Some(reply));
}
