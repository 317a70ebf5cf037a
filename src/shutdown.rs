//! Shutdown as a value: `signal()` resolves on SIGINT (Ctrl-C) or SIGTERM (what Kubernetes
//! sends before it kills a pod). Servers and background tasks all take a future like it.

pub async fn signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => tracing::info!("SIGINT received, shutting down"),
        () = term => tracing::info!("SIGTERM received, shutting down"),
    }
}

/// A shutdown that many tasks can wait on: fire once, every waiter wakes.
#[derive(Clone)]
pub struct Trigger(tokio::sync::watch::Sender<bool>);

impl Trigger {
    pub fn new() -> Self {
        Self(tokio::sync::watch::channel(false).0)
    }

    pub fn fire(&self) {
        self.0.send_replace(true);
    }

    /// Resolves once `fire` has been called (immediately if it already was), or once every
    /// clone of the trigger is gone. Borrows nothing (`use<>`): a closure may call it to make
    /// each restart of a task its own stop future.
    pub fn wait(&self) -> impl std::future::Future<Output = ()> + Send + 'static + use<> {
        let mut rx = self.0.subscribe();
        async move {
            let _ = rx.wait_for(|fired| *fired).await;
        }
    }
}

impl Default for Trigger {
    fn default() -> Self {
        Self::new()
    }
}
