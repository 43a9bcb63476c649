//! `concord import FILE.rdb`: loads a Redis RDB file into a running database through one
//! of its instances, as ordinary writes (so they reach the other instances by the
//! normal replication).

use anyhow::{Context, Result, bail};
use clap::Args;
use concord_rdb::{Reader, commands};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;

/// Commands sent before their replies are read.
const PIPELINE: usize = 512;

/// `concord import` arguments.
#[derive(Args)]
pub struct ImportArgs {
    /// The RDB file (Redis 6.0 to 7.2).
    file: PathBuf,
    /// The instance to load it through.
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Its port.
    #[arg(long, default_value_t = 6379)]
    port: u16,
    /// The user to authenticate as (with --password).
    #[arg(long)]
    user: Option<String>,
    /// The password (also read from CONCORD_PASSWORD).
    #[arg(long, env = "CONCORD_PASSWORD", hide_env_values = true)]
    password: Option<String>,
    /// The file's database to import. Concord has one database: keys of the file's
    /// other databases are skipped (and counted); without this option they are an error.
    #[arg(long)]
    from_db: Option<u64>,
}

/// Runs `concord import`.
pub fn run(args: ImportArgs) -> Result<()> {
    let opened = std::fs::File::open(&args.file)
        .with_context(|| format!("reading {}", args.file.display()))?;
    // SAFETY: the map is read-only and every length is checked against it. A file changed
    // while it is imported reads as damage; one cut short meanwhile ends the process
    // (SIGBUS), which docs/MIGRATION.md warns of.
    let file = unsafe { memmap2::Mmap::map(&opened) }
        .with_context(|| format!("reading {}", args.file.display()))?;
    // A file damaged anywhere (its checksum) is refused before anything is written.
    concord_rdb::verify(&file).with_context(|| args.file.display().to_string())?;
    let mut reader = Reader::new(&file).with_context(|| args.file.display().to_string())?;
    let sock = TcpStream::connect((args.host.as_str(), args.port))
        .with_context(|| format!("connecting to {}:{}", args.host, args.port))?;
    let mut conn = Conn::new(sock)?;
    if let Some(pw) = &args.password {
        let mut auth = vec![b"AUTH".to_vec()];
        auth.extend(args.user.iter().map(|u| u.as_bytes().to_vec()));
        auth.push(pw.as_bytes().to_vec());
        conn.send(&auth)?;
        conn.flush_replies()?;
    }
    let bar = ProgressBar::new(file.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {msg}")
            .context("progress style")?,
    );
    let (mut keys, mut skipped) = (0u64, 0u64);
    while let Some(e) = reader
        .next_entry()
        .with_context(|| args.file.display().to_string())?
    {
        match args.from_db {
            Some(db) if db != e.db => {
                skipped += 1;
                continue;
            }
            None if e.db != 0 => bail!(
                "key '{}' is in database {}: Concord has one database; choose the file's \
                 database to import with --from-db",
                String::from_utf8_lossy(&e.key),
                e.db
            ),
            _ => {}
        }
        for cmd in commands(e) {
            conn.send(&cmd)?;
        }
        keys += 1;
        if conn.waiting >= PIPELINE {
            conn.flush_replies()?;
            bar.set_position(reader.offset() as u64);
            bar.set_message(format!("{keys} keys"));
        }
    }
    // The file's function libraries (Redis 7.0 on), each replacing one of the same name.
    let functions = reader.header().functions.len();
    for code in &reader.header().functions {
        conn.send(&[
            b"FUNCTION".to_vec(),
            b"LOAD".to_vec(),
            b"REPLACE".to_vec(),
            code.clone(),
        ])?;
    }
    conn.flush_replies()?;
    bar.finish_and_clear();
    println!(
        "imported {keys} keys{} from {}{}",
        if functions > 0 {
            format!(" and {functions} function libraries")
        } else {
            String::new()
        },
        args.file.display(),
        if skipped > 0 {
            format!(" ({skipped} keys of other databases skipped)")
        } else {
            String::new()
        }
    );
    Ok(())
}

/// A connection sending commands and checking their replies in batches.
struct Conn {
    out: TcpStream,
    rd: BufReader<TcpStream>,
    buf: Vec<u8>,
    waiting: usize,
}

impl Conn {
    fn new(sock: TcpStream) -> Result<Conn> {
        let rd = BufReader::new(sock.try_clone()?);
        Ok(Conn {
            out: sock,
            rd,
            buf: Vec::new(),
            waiting: 0,
        })
    }

    fn send(&mut self, args: &[Vec<u8>]) -> Result<()> {
        self.buf
            .extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
        for a in args {
            self.buf
                .extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
            self.buf.extend_from_slice(a);
            self.buf.extend_from_slice(b"\r\n");
        }
        self.waiting += 1;
        Ok(())
    }

    /// Sends what is queued and reads every reply; an error reply stops the import.
    fn flush_replies(&mut self) -> Result<()> {
        self.out.write_all(&self.buf).context("sending")?;
        self.buf.clear();
        while self.waiting > 0 {
            self.reply()?;
            self.waiting -= 1;
        }
        Ok(())
    }

    /// Reads one reply (the commands sent answer with statuses, integers or bulks).
    fn reply(&mut self) -> Result<()> {
        let mut line = Vec::new();
        self.rd.read_until(b'\n', &mut line).context("reading")?;
        if line.is_empty() {
            bail!("the instance closed the connection");
        }
        match line[0] {
            b'-' => bail!(
                "the instance refused a write: {}",
                String::from_utf8_lossy(&line[1..]).trim_end()
            ),
            b'$' => {
                let n: i64 = std::str::from_utf8(&line[1..])?.trim().parse()?;
                if n >= 0 {
                    let mut skip = vec![0; n as usize + 2];
                    self.rd.read_exact(&mut skip)?;
                }
                Ok(())
            }
            b'+' | b':' | b'_' => Ok(()),
            other => bail!("unexpected reply type {:?}", other as char),
        }
    }
}
