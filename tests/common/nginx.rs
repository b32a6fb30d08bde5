//! Debian's nginx in the foreground for a test: one process, everything it writes (pid,
//! logs, temp files) in the test's folder, its own PID killed when dropped.

use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use super::tools::nginx_path;
use super::{free_port, wait_until};

/// A running nginx; killed when dropped.
pub struct Nginx {
    child: Child,
    /// The address of its first listener.
    pub addr: SocketAddr,
}

impl Nginx {
    /// nginx serving `root` as a static site on a free loopback port, with `server_block`
    /// (directives) inside the `server { }`.
    pub fn static_site(dir: &Path, root: &Path, server_block: &str) -> Nginx {
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().expect("addr");
        let http = format!(
            "types {{ audio/mpeg mp3; application/rss+xml xml; text/html html; }}\n\
             server {{\n  listen {addr};\n  root {root};\n{server_block}\n}}\n",
            root = root.display()
        );
        Nginx::start(dir, &http, addr)
    }

    /// nginx with `http` as the body of its `http { }` block; ready once `addr` accepts.
    // The child is waited for in Drop, which clippy's lint cannot see.
    #[allow(clippy::zombie_processes)]
    pub fn start(dir: &Path, http: &str, addr: SocketAddr) -> Nginx {
        let d = dir.display();
        let config = format!(
            "daemon off;\nmaster_process off;\npid {d}/nginx.pid;\nerror_log {d}/error.log;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n  access_log off;\n\
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             {http}\n}}\n"
        );
        let conf = dir.join("nginx.conf");
        std::fs::write(&conf, config).expect("write nginx.conf");
        let child = Command::new(nginx_path())
            .arg("-p")
            .arg(dir)
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start nginx");
        let mut n = Nginx { child, addr };
        wait_until(10, "nginx listening", || {
            if let Ok(Some(status)) = n.child.try_wait() {
                let log = std::fs::read_to_string(dir.join("error.log")).unwrap_or_default();
                panic!("nginx exited with {status}:\n{log}");
            }
            TcpStream::connect(addr).is_ok()
        });
        n
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
