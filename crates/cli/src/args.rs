//! Parsers of command-line values that clap's defaults do not cover: addresses given
//! by host name, counts that must be positive, durations, chunk shapes, iteration
//! counts.

use std::net::{IpAddr, SocketAddr, ToSocketAddrs};

/// The port a head listens on when `--listen` names a host only.
pub const HEAD_PORT: u16 = 7878;

/// `HOST`, `HOST:PORT`, `IP`, `IP:PORT` or `[IPv6]:PORT`, host names resolved (IPv4
/// preferred); `default_port` when no port is given.
pub fn socket_address(text: &str, default_port: u16) -> Result<SocketAddr, String> {
    let text = text.trim();
    if let Ok(address) = text.parse::<SocketAddr>() {
        return Ok(address);
    }
    if let Ok(ip) = text
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return Ok(SocketAddr::new(ip, default_port));
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((host, port)) => {
            let port = port
                .parse::<u16>()
                .map_err(|_| format!("`{text}`: `{port}` is not a port number"))?;
            (host, port)
        }
        None => (text, default_port),
    };
    if host.is_empty() {
        return Err(format!("`{text}`: no host"));
    }
    let addresses: Vec<SocketAddr> = (host, port)
        .to_socket_addrs()
        .map_err(|e| format!("cannot resolve `{host}`: {e}"))?
        .collect();
    addresses
        .iter()
        .find(|a| a.is_ipv4())
        .or(addresses.first())
        .copied()
        .ok_or_else(|| format!("`{host}` resolves to no address"))
}

/// A head's `--listen`: port [`HEAD_PORT`] unless given.
pub fn head_listen(text: &str) -> Result<SocketAddr, String> {
    socket_address(text, HEAD_PORT)
}

/// A worker's `--listen`: any free port unless given.
pub fn worker_listen(text: &str) -> Result<SocketAddr, String> {
    socket_address(text, 0)
}

/// An IP address, or a host name resolved to one (IPv4 preferred).
pub fn host_ip(text: &str) -> Result<IpAddr, String> {
    socket_address(text, 0).map(|a| a.ip())
}

/// A count of at least 1.
pub fn at_least_one(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("`{text}`: {e}")),
    }
}

/// A duration in seconds, finite, at least 0.05 and at most a day.
pub fn positive_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(s) if s.is_finite() && (0.05..=86_400.0).contains(&s) => Ok(s),
        Ok(_) => Err("must be between 0.05 and 86400 seconds".into()),
        Err(e) => Err(format!("`{text}`: {e}")),
    }
}

/// A chunk shape `ROWSxCOLS` (e.g. `10x10`), both at least 1.
pub fn chunk_shape(text: &str) -> Result<[usize; 2], String> {
    let usage = || format!("`{text}`: a chunk shape is ROWSxCOLS, e.g. 10x10");
    let (rows, cols) = text.trim().split_once(['x', 'X']).ok_or_else(usage)?;
    let side = |s: &str| match s.trim().parse::<usize>() {
        Ok(0) => Err(format!("`{text}`: rows and columns must be at least 1")),
        Ok(n) => Ok(n),
        Err(_) => Err(usage()),
    };
    Ok([side(rows)?, side(cols)?])
}

/// A weak-scaling run's iterations: enough for its measured window (see
/// [`crate::weak_scaling::check_iterations`]).
pub fn iterations(text: &str) -> Result<i64, String> {
    let n = text
        .trim()
        .parse::<i64>()
        .map_err(|e| format!("`{text}`: {e}"))?;
    crate::weak_scaling::check_iterations(n).map(|()| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_positive_and_bounded() {
        assert_eq!(positive_seconds("0.5"), Ok(0.5));
        assert!(positive_seconds("0").is_err());
        assert!(positive_seconds("nan").is_err());
        assert!(positive_seconds("-1").is_err());
        assert!(positive_seconds("1e9").is_err());
        assert!(positive_seconds("soon").is_err());
    }

    #[test]
    fn addresses_by_ip_or_host_with_or_without_port() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert_eq!(head_listen("127.0.0.1:9000"), Ok(at("127.0.0.1:9000")));
        assert_eq!(head_listen("0.0.0.0"), Ok(at("0.0.0.0:7878")));
        assert_eq!(worker_listen("[::1]:5"), Ok(at("[::1]:5")));
        assert_eq!(worker_listen("::1"), Ok(at("[::1]:0")));
        assert_eq!(head_listen("localhost"), Ok(at("127.0.0.1:7878")));
        assert_eq!(worker_listen("localhost:0"), Ok(at("127.0.0.1:0")));
        assert_eq!(host_ip("localhost"), Ok("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bad_addresses_say_what_is_wrong() {
        assert!(
            head_listen("localhost:http")
                .unwrap_err()
                .contains("not a port")
        );
        assert!(
            head_listen("localhost:70000")
                .unwrap_err()
                .contains("not a port")
        );
        assert!(head_listen(":80").unwrap_err().contains("no host"));
    }

    #[test]
    fn counts_start_at_one() {
        assert_eq!(at_least_one("3"), Ok(3));
        assert_eq!(at_least_one("0"), Err("must be at least 1".into()));
        assert!(at_least_one("-1").is_err());
        assert!(at_least_one("many").is_err());
    }

    #[test]
    fn chunk_shapes_are_rows_x_columns() {
        assert_eq!(chunk_shape("10x10"), Ok([10, 10]));
        assert_eq!(chunk_shape("1000X3"), Ok([1000, 3]));
        assert!(chunk_shape("10").unwrap_err().contains("ROWSxCOLS"));
        assert!(chunk_shape("10x").unwrap_err().contains("ROWSxCOLS"));
        assert!(chunk_shape("ax3").unwrap_err().contains("ROWSxCOLS"));
        assert!(chunk_shape("0x3").unwrap_err().contains("at least 1"));
    }

    #[test]
    fn iterations_leave_a_measured_window() {
        assert_eq!(iterations("40"), Ok(40));
        assert_eq!(iterations("230"), Ok(230));
        assert!(iterations("39").unwrap_err().contains("at least 40"));
        assert!(iterations("-5").unwrap_err().contains("at least 40"));
        assert!(iterations("lots").is_err());
    }
}
