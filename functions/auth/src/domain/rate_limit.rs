//! Fixed 60-second windows per route group and client, in Redis. A client is an IPv4 address or
//! an IPv6 /64: one subscriber usually holds a whole /64, and counting its 2^64 addresses apart
//! would let it walk past any limit.

use redline_core::clock::now_secs;
use redline_core::http::RateDecision;
use redline_stores::cache::{Cache, CacheError};
use std::net::{IpAddr, Ipv6Addr};

const WINDOW_SECS: u64 = 60;

pub async fn check(
    cache: &Cache,
    group: &str,
    client_ip: &str,
    limit: u32,
) -> Result<RateDecision, CacheError> {
    let now = now_secs();
    let window = now / WINDOW_SECS;
    let reset = WINDOW_SECS - now % WINDOW_SECS;
    let client = client_key(client_ip);
    let key = cache.key(&format!("rate:{group}:{client}:{window}"));
    let mut pipe = redis::pipe();
    pipe.atomic()
        .incr(&key, 1)
        .expire(&key, (WINDOW_SECS + 5) as i64)
        .ignore();
    let (count,): (u64,) = cache.pipeline(&pipe).await?;
    Ok(RateDecision {
        allowed: count <= u64::from(limit),
        limit,
        remaining: u64::from(limit).saturating_sub(count) as u32,
        reset,
    })
}

/// Whom a window counts: the IPv4 address (an IPv4-mapped IPv6 address is that IPv4 address),
/// the /64 of an IPv6 address, or the text as given when it is no address at all.
pub fn client_key(client_ip: &str) -> String {
    match client_ip.trim().parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) => v4.to_string(),
        Ok(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let prefix = u128::from(v6) & !u128::from(u64::MAX);
                format!("{}/64", Ipv6Addr::from(prefix))
            }
        },
        Err(_) => client_ip.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::client_key;

    #[test]
    fn ipv6_clients_are_counted_by_their_64() {
        let a = client_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd");
        assert_eq!(a, "2001:db8:1:2::/64");
        assert_eq!(client_key("2001:0db8:0001:0002::1"), a);
        assert_ne!(client_key("2001:db8:1:3::1"), a);
    }

    #[test]
    fn ipv4_and_mapped_ipv4_are_one_client_and_other_text_is_kept() {
        assert_eq!(client_key("203.0.113.9"), "203.0.113.9");
        assert_eq!(client_key("::ffff:203.0.113.9"), "203.0.113.9");
        assert_ne!(client_key("203.0.113.10"), client_key("203.0.113.9"));
        assert_eq!(client_key("unknown"), "unknown");
    }
}
