//! A WebSocket client that writes frames by hand, for frames a real
//! client library refuses to send (bad opcodes, reserved bits, oversized
//! control frames, slow or partial writes).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::WAIT;

/// A raw WebSocket connection over TCP (for frames tungstenite will not send).
pub struct Raw {
    tcp: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// Performs the upgrade handshake on `path`; panics unless 101.
    pub async fn connect(addr: std::net::SocketAddr, path: &str) -> Self {
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        tcp.write_all(req.as_bytes()).await.unwrap();
        let mut buf = Vec::new();
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            let mut chunk = [0u8; 1024];
            let n = tokio::time::timeout(WAIT, tcp.read(&mut chunk))
                .await
                .expect("handshake timed out")
                .unwrap();
            assert!(n > 0, "EOF during handshake");
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        buf.drain(..head_end);
        Self { tcp, buf }
    }

    /// A masked client frame (mask key 0, so the payload is sent as is).
    pub fn frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
        Self::frame_with(0x80 | opcode, true, payload)
    }

    /// A frame with the first byte `head` (FIN, RSV1-3, opcode) as given,
    /// masked (key 0) or not.
    pub fn frame_with(head: u8, masked: bool, payload: &[u8]) -> Vec<u8> {
        let mask_bit = if masked { 0x80 } else { 0 };
        let mut f = vec![head];
        match payload.len() {
            n if n < 126 => f.push(mask_bit | n as u8),
            n if n <= 0xffff => {
                f.push(mask_bit | 126);
                f.extend_from_slice(&(n as u16).to_be_bytes());
            }
            n => {
                f.push(mask_bit | 127);
                f.extend_from_slice(&(n as u64).to_be_bytes());
            }
        }
        if masked {
            f.extend_from_slice(&[0, 0, 0, 0]);
        }
        f.extend_from_slice(payload);
        f
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.unwrap();
    }

    /// Writes `bytes`, ignoring a write error (the server may close first).
    pub async fn try_send_raw(&mut self, bytes: &[u8]) {
        let _ = self.tcp.write_all(bytes).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.send_raw(&Self::frame(0x1, text.as_bytes())).await;
    }

    /// Next server frame `(opcode, payload)`; `None` at EOF or reset.
    pub async fn next_frame(&mut self) -> Option<(u8, Vec<u8>)> {
        loop {
            if self.buf.len() >= 2 {
                let op = self.buf[0] & 0x0f;
                let (len, hdr) = match self.buf[1] & 0x7f {
                    126 if self.buf.len() >= 4 => {
                        (u16::from_be_bytes([self.buf[2], self.buf[3]]) as usize, 4)
                    }
                    127 if self.buf.len() >= 10 => (
                        u64::from_be_bytes(self.buf[2..10].try_into().unwrap()) as usize,
                        10,
                    ),
                    126 | 127 => (usize::MAX, 0),
                    n => (n as usize, 2),
                };
                if len != usize::MAX && self.buf.len() >= hdr + len {
                    let payload = self.buf[hdr..hdr + len].to_vec();
                    self.buf.drain(..hdr + len);
                    return Some((op, payload));
                }
            }
            let mut chunk = [0u8; 4096];
            match tokio::time::timeout(WAIT, self.tcp.read(&mut chunk))
                .await
                .expect("raw read timed out")
            {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }

    /// Reads frames until a close frame (its code) or EOF (`None`).
    pub async fn close_code(&mut self) -> Option<u16> {
        while let Some((op, payload)) = self.next_frame().await {
            if op == 0x8 {
                return Some(if payload.len() >= 2 {
                    u16::from_be_bytes([payload[0], payload[1]])
                } else {
                    1005
                });
            }
        }
        None
    }
}
