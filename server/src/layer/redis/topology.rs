//! Which Redis servers the layer talks to (`--redis-url`,
//! `--redis-cluster`, `--redis-sentinel-service`, `--redis-tls-*`), where a
//! room lives among several shards, and how a shard's current primary is
//! found (a fixed URL, or Redis Sentinel).

use std::time::Duration;

use redis::{ClientTlsConfig, ConnectionAddr, ConnectionInfo, IntoConnectionInfo, TlsCertificates};

use crate::error::{Error, Result};
use crate::Config;

/// Longest wait for one Sentinel's answer.
const SENTINEL_TIMEOUT: Duration = Duration::from_millis(1000);

/// What the Redis flags ask for.
#[derive(Debug, Clone)]
pub(super) struct Options {
    /// One shard per entry (a URL, or a Sentinel service name).
    pub(super) shards: Vec<ShardSpec>,
    /// Seed nodes of one Redis Cluster (then `shards` is empty).
    pub(super) cluster: Option<Vec<String>>,
    /// `--redis-tls-*`: a CA and a client certificate for `rediss://`.
    pub(super) tls: Option<TlsCertificates>,
    /// `--redis-wait-replicas` and `--redis-wait-timeout-ms`.
    pub(super) wait: Option<(u32, u64)>,
}

/// Where one shard's primary is.
#[derive(Debug, Clone)]
pub(super) enum ShardSpec {
    /// A fixed URL.
    Url(String),
    /// The master Sentinel knows by this name, asked of these Sentinels.
    Sentinel {
        /// The Sentinels' URLs (scheme, user, password and db apply to the
        /// master; the Sentinels are asked without credentials).
        sentinels: Vec<String>,
        /// The monitored master's name.
        service: String,
    },
}

impl ShardSpec {
    /// How the shard is named in logs (no credentials).
    pub(super) fn label(&self) -> String {
        match self {
            Self::Url(url) => redact(url),
            Self::Sentinel { service, .. } => format!("sentinel service {service}"),
        }
    }
}

/// `url` without its password.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}***{}", &url[..s + 3], &url[at..]),
        _ => url.to_owned(),
    }
}

impl Options {
    /// Reads the flags; refuses combinations that cannot work.
    pub(super) fn from_config(config: &Config) -> Result<Self> {
        let bad = |m: String| Error::Internal(m);
        let urls: Vec<String> = config
            .redis_url
            .iter()
            .map(|u| u.trim().to_owned())
            .filter(|u| !u.is_empty())
            .collect();
        if urls.is_empty() {
            return Err(bad("no --redis-url given".into()));
        }
        let tls = certificates(config)?;
        let wait = (config.redis_wait_replicas > 0).then_some((
            config.redis_wait_replicas,
            config.redis_wait_timeout_ms.max(1),
        ));
        if config.redis_cluster {
            if !config.redis_sentinel_service.is_empty() {
                return Err(bad(
                    "--redis-cluster and --redis-sentinel-service exclude each other".into(),
                ));
            }
            if config.redis_prefix.contains(['{', '}']) {
                return Err(bad(
                    "--redis-prefix may not contain '{' or '}' with --redis-cluster (they make hash tags)"
                        .into(),
                ));
            }
            return Ok(Self {
                shards: Vec::new(),
                cluster: Some(urls),
                tls,
                wait,
            });
        }
        let shards = if config.redis_sentinel_service.is_empty() {
            urls.into_iter().map(ShardSpec::Url).collect()
        } else {
            config
                .redis_sentinel_service
                .iter()
                .map(|service| ShardSpec::Sentinel {
                    sentinels: urls.clone(),
                    service: service.clone(),
                })
                .collect()
        };
        Ok(Self {
            shards,
            cluster: None,
            tls,
            wait,
        })
    }
}

fn certificates(config: &Config) -> Result<Option<TlsCertificates>> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| Error::Internal(format!("cannot read {}: {e}", p.display())))
    };
    let root_cert = config.redis_tls_ca.as_deref().map(read).transpose()?;
    let client_tls = match (&config.redis_tls_cert, &config.redis_tls_key) {
        (Some(c), Some(k)) => Some(ClientTlsConfig {
            client_cert: read(c)?,
            client_key: read(k)?,
        }),
        _ => None,
    };
    Ok(
        (root_cert.is_some() || client_tls.is_some()).then_some(TlsCertificates {
            client_tls,
            root_cert,
        }),
    )
}

/// A client for `info` with the TLS settings (`rediss://` only).
pub(super) fn client(
    info: ConnectionInfo,
    tls: Option<&TlsCertificates>,
) -> redis::RedisResult<redis::Client> {
    match tls {
        Some(certs) if matches!(info.addr(), ConnectionAddr::TcpTls { .. }) => {
            redis::Client::build_with_tls(info, certs.clone())
        }
        _ => redis::Client::open(info),
    }
}

/// The shard of `room` among `shards`: jump consistent hash of the FNV-1a
/// hash of its name. Stable across versions and processes; adding a shard
/// at the end moves about 1/n of the rooms, all to the new shard.
pub(super) fn shard_of(room: &str, shards: usize) -> usize {
    if shards <= 1 {
        return 0;
    }
    jump(fnv1a(room.as_bytes()), shards)
}

/// FNV-1a, 64 bits.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Lamping and Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm".
fn jump(mut key: u64, buckets: usize) -> usize {
    let mut b: i64 = -1;
    let mut j: i64 = 0;
    let n = i64::try_from(buckets).unwrap_or(i64::MAX);
    while j < n {
        b = j;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // (b + 1) * 2^31 / ((key >> 33) + 1), in floating point as published.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        {
            j = ((b + 1) as f64 * ((1u64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
        }
    }
    usize::try_from(b).unwrap_or(0)
}

/// How a shard's primary is reached.
pub(super) enum Source {
    /// One address.
    Fixed(redis::Client),
    /// Whatever Redis Sentinel says the master of `service` is.
    Sentinel {
        /// The Sentinels (without credentials).
        sentinels: Vec<ConnectionInfo>,
        /// The master's name.
        service: String,
        /// Scheme, credentials and db of the master's connection.
        template: ConnectionInfo,
        tls: Option<TlsCertificates>,
    },
}

impl Source {
    pub(super) fn new(spec: &ShardSpec, tls: Option<&TlsCertificates>) -> redis::RedisResult<Self> {
        match spec {
            ShardSpec::Url(url) => Ok(Self::Fixed(client(
                url.as_str().into_connection_info()?,
                tls,
            )?)),
            ShardSpec::Sentinel { sentinels, service } => {
                let infos = sentinels
                    .iter()
                    .map(|u| u.as_str().into_connection_info())
                    .collect::<redis::RedisResult<Vec<_>>>()?;
                let template = infos[0].clone();
                let sentinels = infos
                    .into_iter()
                    .map(|i| i.set_redis_settings(redis::RedisConnectionInfo::default()))
                    .collect();
                Ok(Self::Sentinel {
                    sentinels,
                    service: service.clone(),
                    template,
                    tls: tls.cloned(),
                })
            }
        }
    }

    /// A client for the current primary and its address (`host:port`).
    pub(super) async fn client(&self) -> redis::RedisResult<(redis::Client, String)> {
        match self {
            Self::Fixed(c) => Ok((c.clone(), address(c.get_connection_info().addr()))),
            Self::Sentinel { template, tls, .. } => {
                let (host, port) = self.master_addr().await?;
                let addr = match template.addr() {
                    ConnectionAddr::TcpTls { .. } => ConnectionAddr::TcpTls {
                        host: host.clone(),
                        port,
                        insecure: false,
                        tls_params: None,
                    },
                    _ => ConnectionAddr::Tcp(host.clone(), port),
                };
                let c = client(template.clone().set_addr(addr), tls.as_ref())?;
                Ok((c, format!("{host}:{port}")))
            }
        }
    }

    /// Whether the primary can move (Sentinel).
    pub(super) fn moves(&self) -> bool {
        matches!(self, Self::Sentinel { .. })
    }

    /// The master's address as the first Sentinel that knows it says.
    pub(super) async fn master_addr(&self) -> redis::RedisResult<(String, u16)> {
        let Self::Sentinel {
            sentinels, service, ..
        } = self
        else {
            return Err(redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "not a sentinel source",
            )));
        };
        let mut last = None;
        for s in sentinels {
            let ask = async {
                let client = redis::Client::open(s.clone())?;
                let mut conn = client.get_multiplexed_async_connection().await?;
                redis::cmd("SENTINEL")
                    .arg("get-master-addr-by-name")
                    .arg(service)
                    .query_async::<Option<(String, u16)>>(&mut conn)
                    .await
            };
            match tokio::time::timeout(SENTINEL_TIMEOUT, ask).await {
                Ok(Ok(Some(addr))) => return Ok(addr),
                Ok(Ok(None)) => {
                    last = Some(redis::RedisError::from((
                        redis::ErrorKind::InvalidClientConfig,
                        "sentinel does not know the service",
                        service.clone(),
                    )));
                }
                Ok(Err(e)) => last = Some(e),
                Err(_) => {
                    last = Some(redis::RedisError::from(std::io::Error::from(
                        std::io::ErrorKind::TimedOut,
                    )));
                }
            }
        }
        Err(last.unwrap_or_else(|| {
            redis::RedisError::from((redis::ErrorKind::InvalidClientConfig, "no sentinel given"))
        }))
    }
}

/// `host:port` of an address.
pub(super) fn address(addr: &ConnectionAddr) -> String {
    match addr {
        ConnectionAddr::Tcp(h, p)
        | ConnectionAddr::TcpTls {
            host: h, port: p, ..
        } => {
            format!("{h}:{p}")
        }
        ConnectionAddr::Unix(p) => p.display().to_string(),
        _ => "?".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jump_hash_matches_the_paper_and_moves_only_to_a_new_shard() {
        // Test vectors of other implementations (e.g. dgryski/go-jump).
        assert_eq!(jump(0, 1), 0);
        assert_eq!(jump(42, 57), 43);
        assert_eq!(jump(0xDEAD_10CC, 666), 361);
        assert_eq!(jump(256, 1024), 520);
        let rooms: Vec<String> = (0..3000).map(|i| format!("room-{i}")).collect();
        let mut counts = [0usize; 3];
        for r in &rooms {
            counts[shard_of(r, 3)] += 1;
        }
        for c in counts {
            assert!((800..1200).contains(&c), "{counts:?}");
        }
        let mut moved = 0;
        for r in &rooms {
            let (before, after) = (shard_of(r, 3), shard_of(r, 4));
            if before != after {
                assert_eq!(after, 3, "{r} moved between old shards");
                moved += 1;
            }
        }
        assert!((600..900).contains(&moved), "{moved} of 3000 moved");
        assert_eq!(shard_of("anything", 1), 0);
    }

    #[test]
    fn passwords_are_not_logged() {
        assert_eq!(redact("redis://:pw@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("rediss://h:1"), "rediss://h:1");
    }
}
