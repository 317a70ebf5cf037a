//! The in-process mock processor's listener: the address asked for, or a free port when another
//! process holds it, so a second `paygate serve` in development mode still starts.

use std::io;
use std::net::SocketAddr;
use tokio::net::TcpListener;

/// A bound listener, and the address it could not have when it fell back to a free port.
#[derive(Debug)]
pub struct Bound {
    pub listener: TcpListener,
    pub instead_of: Option<SocketAddr>,
}

/// Binds `preferred`. If its port is taken (`AddrInUse`), binds port 0 on the same IP: the
/// caller logs which URL that gave. Any other error (no such interface, no permission) is
/// returned: a different port would not fix it.
pub async fn bind(preferred: SocketAddr) -> io::Result<Bound> {
    match TcpListener::bind(preferred).await {
        Ok(listener) => Ok(Bound {
            listener,
            instead_of: None,
        }),
        Err(e) if e.kind() == io::ErrorKind::AddrInUse && preferred.port() != 0 => {
            let listener = TcpListener::bind(SocketAddr::new(preferred.ip(), 0)).await?;
            Ok(Bound {
                listener,
                instead_of: Some(preferred),
            })
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_free_preferred_address_is_used() {
        // A port that was free a moment ago: bind, note it, release it.
        let free = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let bound = bind(free).await.unwrap();
        assert_eq!(bound.listener.local_addr().unwrap(), free);
        assert_eq!(bound.instead_of, None);
    }

    #[tokio::test]
    async fn a_taken_port_falls_back_to_a_free_one_on_the_same_ip() {
        let holder = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let taken = holder.local_addr().unwrap();
        let bound = bind(taken).await.unwrap();
        let got = bound.listener.local_addr().unwrap();
        assert_ne!(got.port(), taken.port());
        assert_eq!(got.ip(), taken.ip());
        assert_eq!(bound.instead_of, Some(taken));
    }
}
