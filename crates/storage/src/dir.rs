//! File I/O behind a small trait: the real file system, and an in-memory one that can
//! produce the image a crash would leave (unsynced bytes lost or torn, unsynced renames
//! undone, bits flipped).

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::io::{self, Read, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// A file opened for writing; bytes are durable only after [`File::sync`].
pub trait File: Send {
    /// Appends bytes at the end.
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything written so far durable.
    fn sync(&mut self) -> io::Result<()>;
}

/// One directory of named files: everything storage does to a disk.
pub trait Dir: Send + Sync {
    /// Opens a file for reading; `None` when it does not exist.
    fn open(&self, name: &str) -> io::Result<Option<Box<dyn Read + Send>>>;
    /// Creates (or empties) a file for writing.
    fn create(&self, name: &str) -> io::Result<Box<dyn File>>;
    /// Opens an existing file to append to it.
    fn append(&self, name: &str) -> io::Result<Box<dyn File>>;
    /// Renames a file, replacing `to` (durable after [`Dir::sync_dir`]).
    fn rename(&self, from: &str, to: &str) -> io::Result<()>;
    /// Removes a file; removing a missing file is not an error.
    fn remove(&self, name: &str) -> io::Result<()>;
    /// Cuts a file to `len` bytes, durably.
    fn truncate(&self, name: &str, len: u64) -> io::Result<()>;
    /// Makes creations, renames and removals durable.
    fn sync_dir(&self) -> io::Result<()>;
    /// The size of a file; `None` when it does not exist.
    fn size(&self, name: &str) -> io::Result<Option<u64>>;
    /// The names of the files present.
    fn list(&self) -> io::Result<Vec<String>>;
    /// Where the files are, for messages.
    fn describe(&self, name: &str) -> String;
}

/// Reads a whole small file (the manifest).
pub fn read_all(dir: &dyn Dir, name: &str) -> io::Result<Option<Vec<u8>>> {
    match dir.open(name)? {
        None => Ok(None),
        Some(mut r) => {
            let mut v = Vec::new();
            r.read_to_end(&mut v)?;
            Ok(Some(v))
        }
    }
}

/// Writes a whole file atomically: temporary file, sync, rename, sync the directory.
pub fn replace(dir: &dyn Dir, name: &str, bytes: &[u8]) -> io::Result<()> {
    let tmp = format!("{name}.tmp");
    let mut f = dir.create(&tmp)?;
    f.write_all(bytes)?;
    f.sync()?;
    drop(f);
    dir.rename(&tmp, name)?;
    dir.sync_dir()
}

/// A directory of the real file system.
#[derive(Clone, Debug)]
pub struct RealDir {
    path: PathBuf,
}

impl RealDir {
    /// The directory at `path`, created when missing.
    pub fn new(path: impl Into<PathBuf>) -> io::Result<RealDir> {
        let path = path.into();
        fs::create_dir_all(&path)?;
        Ok(RealDir { path })
    }

    /// Its path.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }
}

struct RealFile(fs::File);

impl File for RealFile {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.0.write_all(buf)
    }
    fn sync(&mut self) -> io::Result<()> {
        self.0.sync_data()
    }
}

fn not_found_is_none<T>(r: io::Result<T>) -> io::Result<Option<T>> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

impl Dir for RealDir {
    fn open(&self, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(not_found_is_none(fs::File::open(self.path.join(name)))?
            .map(|f| Box::new(io::BufReader::with_capacity(1 << 20, f)) as Box<dyn Read + Send>))
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        Ok(Box::new(RealFile(fs::File::create(self.path.join(name))?)))
    }
    fn append(&self, name: &str) -> io::Result<Box<dyn File>> {
        let f = fs::OpenOptions::new()
            .append(true)
            .open(self.path.join(name))?;
        Ok(Box::new(RealFile(f)))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        fs::rename(self.path.join(from), self.path.join(to))
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        not_found_is_none(fs::remove_file(self.path.join(name))).map(|_| ())
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let f = fs::OpenOptions::new()
            .write(true)
            .open(self.path.join(name))?;
        f.set_len(len)?;
        f.sync_all()
    }
    fn sync_dir(&self) -> io::Result<()> {
        fs::File::open(&self.path)?.sync_all()
    }
    fn size(&self, name: &str) -> io::Result<Option<u64>> {
        Ok(not_found_is_none(fs::metadata(self.path.join(name)))?.map(|m| m.len()))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        let mut v = Vec::new();
        for e in fs::read_dir(&self.path)? {
            if let Ok(n) = e?.file_name().into_string() {
                v.push(n);
            }
        }
        v.sort();
        Ok(v)
    }
    fn describe(&self, name: &str) -> String {
        self.path.join(name).display().to_string()
    }
}

#[derive(Clone, Debug, Default)]
struct MemFile {
    data: Vec<u8>,
    /// Length of the prefix that is durable.
    synced: usize,
}

#[derive(Debug, Default)]
struct MemInner {
    files: HashMap<u64, MemFile>,
    names: BTreeMap<String, u64>,
    /// The directory as of the last [`Dir::sync_dir`].
    durable_names: BTreeMap<String, u64>,
    next: u64,
}

/// An in-memory directory that remembers what is durable, for crash tests.
#[derive(Clone, Debug, Default)]
pub struct MemDir {
    inner: Arc<Mutex<MemInner>>,
}

struct MemHandle {
    dir: MemDir,
    id: u64,
}

impl File for MemHandle {
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        let mut g = self.dir.lock();
        let f = g.files.get_mut(&self.id).ok_or_else(gone)?;
        f.data.extend_from_slice(buf);
        Ok(())
    }
    fn sync(&mut self) -> io::Result<()> {
        let mut g = self.dir.lock();
        let f = g.files.get_mut(&self.id).ok_or_else(gone)?;
        f.synced = f.data.len();
        Ok(())
    }
}

fn gone() -> io::Error {
    io::Error::new(io::ErrorKind::NotFound, "no such file")
}

impl MemDir {
    /// An empty directory.
    pub fn new() -> MemDir {
        MemDir::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The image a crash would leave: the directory as last synced, each file's durable
    /// prefix plus the first `keep(name, unsynced)` of its unsynced bytes (0 loses them
    /// all; a length inside a record tears it).
    pub fn crash(&self, keep: impl Fn(&str, &[u8]) -> usize) -> MemDir {
        let g = self.lock();
        let mut out = MemInner::default();
        for (name, id) in &g.durable_names {
            let f = &g.files[id];
            let unsynced = &f.data[f.synced..];
            let n = f.synced + keep(name, unsynced).min(unsynced.len());
            let data = f.data[..n].to_vec();
            out.files.insert(
                out.next,
                MemFile {
                    synced: data.len(),
                    data,
                },
            );
            out.names.insert(name.clone(), out.next);
            out.next += 1;
        }
        out.durable_names = out.names.clone();
        MemDir {
            inner: Arc::new(Mutex::new(out)),
        }
    }

    /// The current bytes of a file.
    pub fn bytes(&self, name: &str) -> Option<Vec<u8>> {
        let g = self.lock();
        g.names.get(name).map(|id| g.files[id].data.clone())
    }

    /// Replaces the bytes of a file (durably), e.g. to flip a bit.
    pub fn set_bytes(&self, name: &str, data: Vec<u8>) {
        let mut g = self.lock();
        let id = match g.names.get(name) {
            Some(id) => *id,
            None => {
                let id = g.next;
                g.next += 1;
                g.names.insert(name.into(), id);
                g.durable_names.insert(name.into(), id);
                id
            }
        };
        g.files.insert(
            id,
            MemFile {
                synced: data.len(),
                data,
            },
        );
    }
}

impl Dir for MemDir {
    fn open(&self, name: &str) -> io::Result<Option<Box<dyn Read + Send>>> {
        Ok(self
            .bytes(name)
            .map(|b| Box::new(io::Cursor::new(b)) as Box<dyn Read + Send>))
    }
    fn create(&self, name: &str) -> io::Result<Box<dyn File>> {
        let mut g = self.lock();
        let id = g.next;
        g.next += 1;
        g.files.insert(id, MemFile::default());
        g.names.insert(name.into(), id);
        Ok(Box::new(MemHandle {
            dir: self.clone(),
            id,
        }))
    }
    fn append(&self, name: &str) -> io::Result<Box<dyn File>> {
        let id = *self.lock().names.get(name).ok_or_else(gone)?;
        Ok(Box::new(MemHandle {
            dir: self.clone(),
            id,
        }))
    }
    fn rename(&self, from: &str, to: &str) -> io::Result<()> {
        let mut g = self.lock();
        let id = g.names.remove(from).ok_or_else(gone)?;
        g.names.insert(to.into(), id);
        Ok(())
    }
    fn remove(&self, name: &str) -> io::Result<()> {
        self.lock().names.remove(name);
        Ok(())
    }
    fn truncate(&self, name: &str, len: u64) -> io::Result<()> {
        let mut g = self.lock();
        let id = *g.names.get(name).ok_or_else(gone)?;
        let f = g.files.get_mut(&id).ok_or_else(gone)?;
        f.data.truncate(len as usize);
        f.synced = f.data.len();
        Ok(())
    }
    fn sync_dir(&self) -> io::Result<()> {
        let mut g = self.lock();
        g.durable_names = g.names.clone();
        Ok(())
    }
    fn size(&self, name: &str) -> io::Result<Option<u64>> {
        Ok(self.bytes(name).map(|b| b.len() as u64))
    }
    fn list(&self) -> io::Result<Vec<String>> {
        Ok(self.lock().names.keys().cloned().collect())
    }
    fn describe(&self, name: &str) -> String {
        format!("mem:{name}")
    }
}
