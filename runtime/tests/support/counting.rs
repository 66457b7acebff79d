// Included by the runtime tests that count what reaches the wire (`include!`, like
// `registry.rs`: each test file is its own crate).

/// Counts every attempt that reaches the HTTP stack (before DNS or connect) and answers each
/// with 200 `{}`; waits between attempts take no time.
#[derive(Default)]
struct Counting(std::sync::atomic::AtomicUsize);

impl workerflow_runtime::http::Transport for Counting {
    fn send<'a>(
        &'a self,
        _request: &'a workerflow_runtime::http::OutboundRequest,
        _timeout: std::time::Duration,
    ) -> workerflow_runtime::http::BoxFuture<
        'a,
        Result<workerflow_runtime::http::RawResponse, workerflow_runtime::http::TransportError>,
    > {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async {
            Ok(workerflow_runtime::http::RawResponse {
                status: workerflow_runtime::http::HttpStatus::OK,
                headers: Default::default(),
                body: b"{}".to_vec(),
                truncated: false,
            })
        })
    }

    fn sleep(
        &self,
        _duration: std::time::Duration,
    ) -> workerflow_runtime::http::BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}
