//! Check 4's probe: connect to the mail port, read the greeting, say `QUIT`.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// Connects to `addr` and reads the greeting (the last line of a multi-line one), then says
/// QUIT.
pub(super) async fn read(addr: SocketAddr, limit: Duration) -> Result<String, String> {
    let stream = match tokio::time::timeout(limit, TcpStream::connect(addr)).await {
        Err(_) => {
            return Err(format!(
                "no connection within {} s (a firewall dropping port {}?)",
                limit.as_secs_f64(),
                addr.port()
            ));
        }
        Ok(Err(e)) => return Err(format!("cannot connect: {e}")),
        Ok(Ok(stream)) => stream,
    };
    let mut reader = BufReader::new(stream);
    let read = async {
        let mut line = String::new();
        loop {
            line.clear();
            let n = (&mut reader)
                .take(1024)
                .read_line(&mut line)
                .await
                .map_err(|e| format!("the connection failed before a greeting: {e}"))?;
            if n == 0 {
                return Err("the connection was closed without a greeting".to_owned());
            }
            let text = line.trim_end_matches(['\r', '\n']).to_owned();
            // `220-…` continues; `220 …` (or anything that is not a continuation) ends it.
            if text.len() < 4 || text.as_bytes()[3] != b'-' {
                return Ok(text);
            }
        }
    };
    let result = match tokio::time::timeout(limit, read).await {
        Err(_) => Err(format!(
            "connected, but no greeting within {} s",
            limit.as_secs_f64()
        )),
        Ok(result) => result,
    };
    if result.is_ok() {
        let mut stream = reader.into_inner();
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            stream.write_all(b"QUIT\r\n").await?;
            stream.shutdown().await
        })
        .await;
    }
    result
}
