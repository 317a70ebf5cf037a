//! A loopback TCP proxy the test controls, to take the database away from paygate and give it
//! back without touching the database server.

use std::net::SocketAddr;
use std::sync::Arc;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct TcpProxy {
    addr: SocketAddr,
    up: Arc<watch::Sender<bool>>,
    /// While cut: accept connections and leave them silent (a black hole) instead of closing.
    silent: Arc<watch::Sender<bool>>,
    accept: tokio::task::JoinHandle<()>,
}

impl TcpProxy {
    /// Listens on 127.0.0.1:0 and forwards every connection to `target` while up.
    pub async fn start(target: SocketAddr) -> TcpProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let (silent, _) = watch::channel(false);
        let silent = Arc::new(silent);
        let accept = {
            let (up, silent) = (up.clone(), silent.clone());
            tokio::spawn(async move {
                loop {
                    let Ok((client, _)) = listener.accept().await else {
                        return;
                    };
                    if !*up.borrow() && *silent.borrow() {
                        // Black hole: held open, never answered, closed on restore.
                        let mut back = up.subscribe();
                        tokio::spawn(async move {
                            let _ = back.wait_for(|up| *up).await;
                            drop(client);
                        });
                        continue;
                    }
                    if !*up.borrow() {
                        drop(client); // cut: refuse by closing at once
                        continue;
                    }
                    let mut down = up.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut server) = TcpStream::connect(target).await else {
                            return;
                        };
                        let mut client = client;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                            _ = down.wait_for(|up| !*up) => {} // cut: both sockets close
                        }
                    });
                }
            })
        };
        TcpProxy {
            addr,
            up,
            silent,
            accept,
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Closes every forwarded connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.up.send_replace(false);
    }

    /// Like [`TcpProxy::cut`], but new connections are accepted and never answered: a database
    /// host that vanished from the network, where each connection attempt waits for a timeout.
    pub fn black_hole(&self) {
        self.silent.send_replace(true);
        self.up.send_replace(false);
    }

    pub fn restore(&self) {
        self.silent.send_replace(false);
        self.up.send_replace(true);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.accept.abort();
    }
}
