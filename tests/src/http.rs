//! A small HTTP/1.1 client that shows everything a session test checks: every
//! `Set-Cookie`, `Vary`, and the raw `Cookie` header it sends.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// One response.
#[derive(Debug, Clone)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Response {
    /// Every value of a header.
    pub fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).into_iter().next()
    }

    /// The `Set-Cookie` for `session`, if any.
    pub fn session_cookie(&self) -> Option<&str> {
        self.header_all("set-cookie")
            .into_iter()
            .find(|c| c.starts_with("session="))
    }

    /// Whether `Vary` names `Cookie`.
    pub fn varies_on_cookie(&self) -> bool {
        self.header_all("vary").iter().any(|v| {
            v.split(',')
                .any(|p| p.trim().eq_ignore_ascii_case("cookie"))
        })
    }
}

/// A client with a one-cookie jar, like a browser holding the session cookie.
#[derive(Debug, Clone)]
pub struct Client {
    port: u16,
    /// The `Cookie` header sent with each request, if any.
    pub cookie: Option<String>,
}

impl Client {
    /// A client with an empty jar.
    pub fn new(port: u16) -> Self {
        Self { port, cookie: None }
    }

    /// GET, failing the test on an I/O error.
    pub fn get(&mut self, path: &str) -> Response {
        self.send("GET", path, "").unwrap()
    }

    /// GET without panicking, for polling.
    pub fn try_get(&mut self, path: &str) -> std::io::Result<Response> {
        self.send("GET", path, "")
    }

    /// POST with an empty body.
    pub fn post(&mut self, path: &str) -> Response {
        self.send("POST", path, "").unwrap()
    }

    /// PUT with a text body.
    pub fn put(&mut self, path: &str, body: &str) -> Response {
        self.send("PUT", path, body).unwrap()
    }

    /// DELETE.
    pub fn delete(&mut self, path: &str) -> Response {
        self.send("DELETE", path, "").unwrap()
    }

    /// The session cookie's value in the jar.
    pub fn session_value(&self) -> Option<&str> {
        self.cookie
            .as_deref()
            .and_then(|c| c.strip_prefix("session="))
    }

    /// Sends a request and updates the jar from `Set-Cookie` as a browser would:
    /// an expired cookie empties it.
    pub fn send(&mut self, method: &str, path: &str, body: &str) -> std::io::Result<Response> {
        let jar = self.cookie.clone();
        let cookies: Vec<&[u8]> = jar.iter().map(|c| c.as_bytes()).collect();
        self.send_raw(method, path, &cookies, body)
    }

    /// GET with these `Cookie` header values, byte for byte, one header each,
    /// instead of the jar's; the jar is updated from the response as usual.
    pub fn get_with_cookie_headers(&mut self, path: &str, cookie_headers: &[&[u8]]) -> Response {
        self.send_raw("GET", path, cookie_headers, "").unwrap()
    }

    fn send_raw(
        &mut self, method: &str, path: &str, cookie_headers: &[&[u8]], body: &str,
    ) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        for cookie in cookie_headers {
            request.extend_from_slice(b"Cookie: ");
            request.extend_from_slice(cookie);
            request.extend_from_slice(b"\r\n");
        }
        request.extend_from_slice(b"\r\n");
        request.extend_from_slice(body.as_bytes());
        stream.write_all(&request)?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw)?;
        let response =
            parse(&raw).ok_or_else(|| std::io::Error::other("malformed HTTP response"))?;
        for set_cookie in response.header_all("set-cookie") {
            let pair = set_cookie.split(';').next().unwrap_or("");
            if set_cookie.contains("Max-Age=0") {
                self.cookie = None;
            } else {
                self.cookie = Some(pair.to_owned());
            }
        }
        Ok(response)
    }
}

fn parse(raw: &[u8]) -> Option<Response> {
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    if headers
        .iter()
        .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"))
    {
        body = dechunk(&body)?;
    }
    Some(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size =
            usize::from_str_radix(std::str::from_utf8(&data[..line_end]).ok()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}
