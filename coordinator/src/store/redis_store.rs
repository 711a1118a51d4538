//! The Redis state store for clusters: hashes `{prefix}sweeps|leases|progress|results`
//! and a list `{prefix}attempts`, values as JSON. Each `apply` is one MULTI/EXEC pipeline
//! on a shared, self-reconnecting connection; `load` reads in HSCAN/LRANGE chunks.
//! Durability is the server's: run Redis with `appendonly yes` for crash safety.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use serde::de::DeserializeOwned;

use super::embedded::codec::{self, Kind, Op};
use super::{Mutation, Snapshot, StateStore, StoreError};

/// The key prefix [`RedisStore::connect`] uses.
pub const DEFAULT_PREFIX: &str = "herd:";

/// How many entries one HSCAN/LRANGE call asks for while loading.
const LOAD_CHUNK: usize = 10_000;

/// The state store in a Redis server.
#[derive(Clone)]
pub struct RedisStore {
    conn: ConnectionManager,
    location: String,
    prefix: String,
    load_chunk: usize,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("location", &self.location)
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl RedisStore {
    /// Connects to `url` (`redis://[user:password@]host:port[/db]`) with the key prefix
    /// [`DEFAULT_PREFIX`].
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with_prefix(url, DEFAULT_PREFIX).await
    }

    /// Connects to `url`, keeping every key under `prefix` (so several coordinators or
    /// tests can share one server).
    pub async fn connect_with_prefix(url: &str, prefix: &str) -> Result<Self, StoreError> {
        let location = redact_url(url);
        let client = redis::Client::open(url).map_err(|e| StoreError::Open {
            location: location.clone(),
            message: format!("invalid Redis URL: {e}"),
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Duration::from_secs(5))
            .set_response_timeout(Duration::from_secs(30))
            .set_number_of_retries(2)
            .set_factor(2)
            .set_max_delay(2_000);
        let mut conn = ConnectionManager::new_with_config(client, config)
            .await
            .map_err(|e| StoreError::Io {
                location: location.clone(),
                op: "connect",
                message: e.to_string(),
            })?;
        let _: String = redis::cmd("PING")
            .query_async(&mut conn)
            .await
            .map_err(|e| StoreError::Io {
                location: location.clone(),
                op: "ping the server",
                message: e.to_string(),
            })?;
        tracing::info!(location = %location, prefix, "connected to Redis state store");
        Ok(Self {
            conn,
            location,
            prefix: prefix.to_string(),
            load_chunk: LOAD_CHUNK,
        })
    }

    /// The key prefix.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The Redis key holding `kind`.
    pub(crate) fn key(&self, kind: Kind) -> String {
        format!("{}{}", self.prefix, kind.table())
    }

    #[cfg(test)]
    pub(crate) fn set_load_chunk(&mut self, chunk: usize) {
        self.load_chunk = chunk.max(1);
    }

    fn io(&self, op: &'static str, e: impl std::fmt::Display) -> StoreError {
        StoreError::Io {
            location: self.location.clone(),
            op,
            message: e.to_string(),
        }
    }

    /// All fields of a hash, in key order (HSCAN may repeat a field; the map dedups).
    async fn scan_hash<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<T>, StoreError> {
        let key = self.key(kind);
        let mut conn = self.conn.clone();
        let mut fields = BTreeMap::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, flat): (u64, Vec<Vec<u8>>) = redis::cmd("HSCAN")
                .arg(&key)
                .arg(cursor)
                .arg("COUNT")
                .arg(self.load_chunk)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.io("scan a hash (HSCAN)", e))?;
            let mut pairs = flat.into_iter();
            while let (Some(field), Some(value)) = (pairs.next(), pairs.next()) {
                fields.insert(String::from_utf8_lossy(&field).into_owned(), value);
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        fields
            .iter()
            .map(|(field, value)| codec::decode(&self.location, kind, field, value))
            .collect()
    }

    /// The whole attempts list, in append order.
    async fn read_list<T: DeserializeOwned>(&self, kind: Kind) -> Result<Vec<T>, StoreError> {
        let key = self.key(kind);
        let mut conn = self.conn.clone();
        let mut out = Vec::new();
        let mut start = 0usize;
        loop {
            let stop = start + self.load_chunk - 1;
            let chunk: Vec<Vec<u8>> = redis::cmd("LRANGE")
                .arg(&key)
                .arg(start)
                .arg(stop)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.io("read a list (LRANGE)", e))?;
            let got = chunk.len();
            for (i, value) in chunk.iter().enumerate() {
                let index = format!("#{}", start + i);
                out.push(codec::decode(&self.location, kind, &index, value)?);
            }
            if got < self.load_chunk {
                break;
            }
            start += got;
        }
        Ok(out)
    }
}

#[async_trait]
impl StateStore for RedisStore {
    fn kind(&self) -> &'static str {
        "redis"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    async fn apply(&self, batch: std::sync::Arc<Vec<Mutation>>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        pipe.atomic();
        let keys = [
            Kind::Sweep,
            Kind::Lease,
            Kind::Progress,
            Kind::Result,
            Kind::Attempt,
        ]
        .map(|k| self.key(k));
        let key_of = |kind: Kind| match kind {
            Kind::Sweep => &keys[0],
            Kind::Lease => &keys[1],
            Kind::Progress => &keys[2],
            Kind::Result => &keys[3],
            Kind::Attempt => &keys[4],
        };
        for (index, mutation) in batch.iter().enumerate() {
            let write = codec::encode(mutation).map_err(|message| StoreError::Io {
                location: self.location.clone(),
                op: "encode a batch",
                message: format!("mutation {index}: {message}; nothing in the batch was applied"),
            })?;
            let key = key_of(write.kind);
            match write.op {
                Op::Put => pipe.hset(key, write.key, write.value).ignore(),
                Op::PutFirst => pipe.hset_nx(key, write.key, write.value).ignore(),
                Op::Delete => pipe.hdel(key, write.key).ignore(),
                Op::Append => pipe.rpush(key, write.value).ignore(),
            };
        }
        let started = Instant::now();
        let mut conn = self.conn.clone();
        pipe.query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.io("apply a batch (MULTI/EXEC)", e))?;
        tracing::trace!(
            mutations = batch.len(),
            elapsed_us = started.elapsed().as_micros() as u64,
            "applied batch"
        );
        Ok(())
    }

    async fn load(&self) -> Result<Snapshot, StoreError> {
        Ok(Snapshot {
            sweeps: self.scan_hash(Kind::Sweep).await?,
            leases: self.scan_hash(Kind::Lease).await?,
            progress: self.scan_hash(Kind::Progress).await?,
            results: self.scan_hash(Kind::Result).await?,
            attempts: self.read_list(Kind::Attempt).await?,
        })
    }
}

/// `url` with any password (and `password=`/`pass=` query values) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (scheme, rest) = match url.find("://") {
        Some(i) => (&url[..i + 3], &url[i + 3..]),
        None => ("", url),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let authority = match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            let host = &authority[at + 1..];
            match userinfo.find(':') {
                Some(colon) => format!("{}:***@{host}", &userinfo[..colon]),
                // `redis://secret@host` means a password without a user name.
                None if !userinfo.is_empty() => format!("***@{host}"),
                None => format!("@{host}"),
            }
        }
        None => authority.to_string(),
    };
    let tail = match tail.find('?') {
        Some(q) => {
            let (path, query) = tail.split_at(q);
            let query = query[1..]
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((name, _))
                        if name.eq_ignore_ascii_case("password")
                            || name.eq_ignore_ascii_case("pass") =>
                    {
                        format!("{name}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect::<Vec<_>>()
                .join("&");
            format!("{path}?{query}")
        }
        None => tail.to_string(),
    };
    format!("{scheme}{authority}{tail}")
}
