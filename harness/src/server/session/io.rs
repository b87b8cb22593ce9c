//! The session's I/O: lines with their length limits, message content after 354 (dot-unstuffed,
//! size- and line-limited), BDAT chunks, buffered replies, pauses that keep listening, and the
//! TLS upgrade that discards clear text sent behind STARTTLS.

use super::answer::bdat_size;
use super::*;

impl Session {
    /// Runs the server side of a TLS handshake. Bytes the client sent in clear text behind
    /// STARTTLS are thrown away (never executed), and the session forgets what it learnt.
    pub(super) async fn start_tls(&mut self) -> Flow {
        self.flush().await?;
        if !self.inbuf.is_empty() {
            self.transcript.push(Event::ClearTextDiscarded {
                bytes: self.inbuf.len(),
            });
            self.inbuf.clear();
        }
        let Some(config) = self.shared.tls.clone() else {
            return Err(End::Server(Some("no certificate for TLS".into())));
        };
        let tcp = match std::mem::replace(&mut self.stream, Stream::Gone) {
            Stream::Plain(tcp) => tcp,
            other => {
                self.stream = other;
                return Err(End::Server(Some("TLS requested inside TLS".into())));
            }
        };
        let accept = TlsAcceptor::from(config).accept(tcp);
        match tokio::time::timeout(self.scenario.idle_timeout, accept).await {
            Ok(Ok(tls)) => {
                let (version, cipher) = crate::tls::describe(tls.get_ref().1);
                self.transcript.push(Event::TlsStarted { version, cipher });
                self.stream = Stream::Tls(Box::new(tls));
                self.state.reset_for_tls();
                Ok(())
            }
            Ok(Err(e)) => {
                let error = e.to_string();
                self.transcript.push(Event::TlsFailed {
                    error: error.clone(),
                });
                Err(End::Client(Some("TLS handshake failed".into())))
            }
            Err(_) => {
                self.transcript.push(Event::TlsFailed {
                    error: "handshake timed out".into(),
                });
                Err(End::Server(Some("TLS handshake timed out".into())))
            }
        }
    }

    // ----- reading and writing ------------------------------------------------------------

    /// Records a client line; for AUTH the initial response, for SASL answers all of it, is a
    /// secret.
    pub(super) fn record_client(&mut self, cmd: &Command, sasl: bool) {
        let secret_from = if sasl {
            Some(0)
        } else if cmd.verb == "AUTH" {
            // "AUTH MECH initial-response": the secret starts at the third word.
            word_starts(&cmd.text).get(2).copied()
        } else {
            None
        };
        self.transcript.push(Event::Client {
            line: cmd.raw.clone(),
            secret_from,
        });
    }

    /// Sends bytes exactly as the scenario gives them (no reply syntax), one transcript line per
    /// line of them.
    pub(super) fn send_raw(&mut self, bytes: &[u8]) {
        self.outbuf.extend_from_slice(bytes);
        for line in bytes.split_inclusive(|b| *b == b'\n') {
            self.transcript.push(Event::Server(line.to_vec()));
        }
    }

    pub(super) fn send(&mut self, reply: &Reply) {
        for line in reply.lines() {
            let mut bytes = Vec::with_capacity(line.len() + 2);
            bytes.extend_from_slice(line.as_bytes());
            bytes.extend_from_slice(b"\r\n");
            self.outbuf.extend_from_slice(&bytes);
            self.transcript.push(Event::Server(bytes));
        }
        self.sasl_next = reply.code() == 334;
    }

    pub(super) async fn flush(&mut self) -> Flow {
        if self.outbuf.is_empty() {
            return Ok(());
        }
        let out = std::mem::take(&mut self.outbuf);
        match tokio::time::timeout(WRITE_TIMEOUT, self.stream.write_all(&out)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::Client(Some("connection lost while writing".into()))),
            Err(_) => Err(End::Server(Some("client stopped reading".into()))),
        }
    }

    /// Waits for more bytes from the client, flushing pending replies first.
    pub(super) async fn fill(&mut self) -> Flow {
        self.flush().await?;
        let idle = self.scenario.idle_timeout;
        let result = tokio::select! {
            r = tokio::time::timeout(idle, self.stream.read_buf(&mut self.inbuf)) => r,
            _ = self.shutdown.changed() => {
                let reply = defaults::shutting_down(&self.scenario);
                self.send(&reply);
                return Err(End::Server(Some("shutdown".into())));
            }
        };
        match result {
            Ok(Ok(0)) => Err(End::Client(None)),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => Err(End::Client(None)),
            Ok(Err(e)) => Err(End::Client(Some(e.to_string()))),
            Err(_) => {
                let reply = defaults::idle_timeout(&self.scenario);
                self.send(&reply);
                Err(End::Server(Some("idle timeout".into())))
            }
        }
    }

    /// Waits `d` while still listening: what the client sends meanwhile is kept for later (an
    /// early talker), and a client that hangs up ends the session at once.
    pub(super) async fn pause(&mut self, d: Duration) -> Flow {
        self.flush().await?;
        let before = self.inbuf.len();
        let result = self.listen_while_paused(d).await;
        let early = self.inbuf.len().saturating_sub(before);
        if early > 0 {
            self.transcript
                .push(Event::ClientSpokeEarly { bytes: early });
        }
        result
    }

    pub(super) async fn listen_while_paused(&mut self, d: Duration) -> Flow {
        let deadline = tokio::time::sleep(d);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                _ = &mut deadline => return Ok(()),
                _ = self.shutdown.changed() => return Err(End::Server(Some("shutdown".into()))),
                r = self.stream.read_buf(&mut self.inbuf) => match r {
                    Ok(0) => return Err(End::Client(None)),
                    Ok(_) if self.inbuf.len() > MAX_AUTH_LINE * 4 => {
                        return Err(End::Server(Some("client sent too much during a pause".into())));
                    }
                    Ok(_) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Err(End::Client(None)),
                    Err(e) => return Err(End::Client(Some(e.to_string()))),
                },
            }
        }
    }

    /// Reads one line (with its line ending). Lines over the limit are consumed to their end and
    /// reported as too long (the bytes kept are the first `MAX_COMMAND_LINE`).
    pub(super) async fn read_line(&mut self) -> Flow<(Vec<u8>, bool)> {
        let mut overflow: Option<Vec<u8>> = None;
        loop {
            if let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                if let Some(head) = overflow {
                    return Ok((head, true));
                }
                let limit = if self.sasl_next || starts_with_auth(&line) {
                    MAX_AUTH_LINE
                } else {
                    MAX_COMMAND_LINE
                };
                if line.len() > limit {
                    return Ok((line[..MAX_COMMAND_LINE].to_vec(), true));
                }
                return Ok((line, false));
            }
            if self.inbuf.len() > MAX_AUTH_LINE {
                if overflow.is_none() {
                    overflow = Some(self.inbuf[..MAX_COMMAND_LINE].to_vec());
                }
                self.inbuf.clear();
            }
            self.fill().await?;
        }
    }

    /// Reads message content after `354` up to `CRLF.CRLF`, undoing dot-stuffing, enforcing the
    /// size limit and the 1000-octet text line limit (the content is still read to its end).
    pub(super) async fn read_data(&mut self) -> Flow<Content> {
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        let mut content = Content::default();
        let mut at_line_start = true;
        let mut line_len = 0usize;
        let mut prev_crlf = true;
        loop {
            while let Some(pos) = self.inbuf.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.inbuf.drain(..=pos).collect();
                if at_line_start && prev_crlf && line == b".\r\n" {
                    return Ok(content);
                }
                // Dot-stuffing applies at the start of a CRLF-terminated line only.
                let stuffed = at_line_start && prev_crlf && line.first() == Some(&b'.');
                let body = if stuffed { &line[1..] } else { &line[..] };
                line_len += line.len();
                content.long_line |= line_len > MAX_TEXT_LINE;
                append_limited(&mut content, body, limit);
                at_line_start = true;
                line_len = 0;
                prev_crlf = line.ends_with(b"\r\n");
            }
            if self.inbuf.len() > MAX_TEXT_LINE {
                // A partial line already over the limit: keep reading, do not hold it all.
                let chunk = std::mem::take(&mut self.inbuf);
                let stuffed = at_line_start && prev_crlf && chunk.first() == Some(&b'.');
                let body = if stuffed { &chunk[1..] } else { &chunk[..] };
                line_len += chunk.len();
                content.long_line = true;
                append_limited(&mut content, body, limit);
                at_line_start = false;
            }
            self.fill().await?;
        }
    }

    /// Reads a BDAT chunk into the transaction's content. Returns `false` (after replying) when
    /// the command cannot be used.
    pub(super) async fn receive_bdat(&mut self, cmd: &Command) -> Flow<bool> {
        let Some(size) = bdat_size(&cmd.args) else {
            self.send(&defaults::syntax("BDAT chunk-size [LAST]"));
            return Ok(false);
        };
        let limit = usize::try_from(self.size_limit()).unwrap_or(usize::MAX);
        let mut content = self.bdat.take().unwrap_or_default();
        let mut left = size;
        while left > 0 {
            if self.inbuf.is_empty() {
                self.fill().await?;
            }
            let take = left.min(self.inbuf.len());
            let chunk: Vec<u8> = self.inbuf.drain(..take).collect();
            append_limited(&mut content, &chunk, limit);
            left -= take;
        }
        self.bdat = Some(content);
        Ok(true)
    }
}

pub(super) fn append_limited(content: &mut Content, bytes: &[u8], limit: usize) {
    if content.too_big {
        return;
    }
    if content.bytes.len() + bytes.len() > limit {
        content.too_big = true;
        content.bytes = Vec::new();
        return;
    }
    content.bytes.extend_from_slice(bytes);
}

pub(super) fn starts_with_auth(line: &[u8]) -> bool {
    line.len() >= 5 && line[..5].eq_ignore_ascii_case(b"AUTH ")
}
