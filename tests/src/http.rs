//! A small HTTP/1.1 client that shows everything a session test checks: every
//! `Set-Cookie`, `Vary`, and the raw `Cookie` header it sends; or, as an API
//! client without a cookie jar, the session header it sends and gets back.

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
        self.varies_on("cookie")
    }

    /// Whether `Vary` names `name` (any case).
    pub fn varies_on(&self, name: &str) -> bool {
        self.header_all("vary")
            .iter()
            .any(|v| v.split(',').any(|p| p.trim().eq_ignore_ascii_case(name)))
    }
}

/// A client with a one-cookie jar, like a browser holding the session cookie;
/// or, made by [`Client::with_session_header`], an API client that carries
/// the sid in a header.
#[derive(Debug, Clone)]
pub struct Client {
    port: u16,
    /// The `Cookie` header sent with each request, if any.
    pub cookie: Option<String>,
    /// For an API client: the session header's name and the value it sends
    /// (empty before it has a session, or after it was told to forget it).
    pub session_header: Option<(String, String)>,
}

impl Client {
    /// A client with an empty jar.
    pub fn new(port: u16) -> Self {
        Self {
            port,
            cookie: None,
            session_header: None,
        }
    }

    /// An API client that sends the session header `name` with every
    /// request, empty until a response gives it a sid, and keeps whatever
    /// value a response's `name` header carries (an empty one included), as
    /// an app following the README does.
    pub fn with_session_header(port: u16, name: &str) -> Self {
        Self {
            session_header: Some((name.to_owned(), String::new())),
            ..Self::new(port)
        }
    }

    /// The session header's value this API client sends.
    pub fn header_value(&self) -> Option<&str> {
        self.session_header
            .as_ref()
            .map(|(_, value)| value.as_str())
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
        let mut headers: Vec<(&str, &[u8])> =
            jar.iter().map(|c| ("Cookie", c.as_bytes())).collect();
        let session_header = self.session_header.clone();
        if let Some((name, value)) = &session_header {
            headers.push((name, value.as_bytes()));
        }
        self.send_raw(method, path, &headers, body)
    }

    /// GET with these `Cookie` header values, byte for byte, one header each,
    /// instead of the jar's; the jar is updated from the response as usual.
    pub fn get_with_cookie_headers(&mut self, path: &str, cookie_headers: &[&[u8]]) -> Response {
        let headers: Vec<(&str, &[u8])> = cookie_headers.iter().map(|c| ("Cookie", *c)).collect();
        self.send_raw("GET", path, &headers, "").unwrap()
    }

    /// A request with exactly these header lines (name, value bytes), and
    /// neither the jar's cookie nor the session header; the jar and the
    /// session header are updated from the response as usual.
    pub fn send_with_headers(
        &mut self, method: &str, path: &str, headers: &[(&str, &[u8])],
    ) -> std::io::Result<Response> {
        self.send_raw(method, path, headers, "")
    }

    fn send_raw(
        &mut self, method: &str, path: &str, headers: &[(&str, &[u8])], body: &str,
    ) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n",
            body.len()
        )
        .into_bytes();
        for (name, value) in headers {
            request.extend_from_slice(name.as_bytes());
            request.extend_from_slice(b": ");
            request.extend_from_slice(value);
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
        if let Some((name, value)) = &mut self.session_header {
            if let Some(sent) = response.header(&name.to_ascii_lowercase()) {
                *value = sent.to_owned();
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
