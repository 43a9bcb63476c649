//! Geo commands on sorted sets: 52-bit geohash scores, Redis's search boxes, distances and
//! number formats, so replies match Redis's to the last digit.

use super::keys::restore;
use super::zsets::{get_zset, zadd};
use crate::Engine;
use crate::NotifyFlags as N;
use crate::args::Args;
use crate::error::{CmdError, CmdResult};
use concord_crdt::num::parse_f64;
use concord_crdt::{Blob, Content, OpKind, ZSet};
use concord_resp::Out;
use std::cmp::Ordering;

const LONG_MIN: f64 = -180.0;
const LONG_MAX: f64 = 180.0;
const LAT_MIN: f64 = -85.051_128_78;
const LAT_MAX: f64 = 85.051_128_78;
const STEP_MAX: u8 = 26;
const EARTH_RADIUS: f64 = 6_372_797.560_856;
const MERCATOR_MAX: f64 = 20_037_726.37;
const D_R: f64 = std::f64::consts::PI / 180.0;

/// A geohash cell: interleaved bits (latitude in even bits) and its precision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Hash {
    bits: u64,
    step: u8,
}

/// A cell's bounds.
#[derive(Clone, Copy, Debug)]
struct Area {
    lon: (f64, f64),
    lat: (f64, f64),
}

fn spread(v: u32) -> u64 {
    let mut x = u64::from(v);
    x = (x | (x << 16)) & 0x0000_FFFF_0000_FFFF;
    x = (x | (x << 8)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x << 4)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x << 2)) & 0x3333_3333_3333_3333;
    (x | (x << 1)) & 0x5555_5555_5555_5555
}

fn squash(v: u64) -> u32 {
    let mut x = v & 0x5555_5555_5555_5555;
    x = (x | (x >> 1)) & 0x3333_3333_3333_3333;
    x = (x | (x >> 2)) & 0x0F0F_0F0F_0F0F_0F0F;
    x = (x | (x >> 4)) & 0x00FF_00FF_00FF_00FF;
    x = (x | (x >> 8)) & 0x0000_FFFF_0000_FFFF;
    ((x | (x >> 16)) & 0x0000_0000_FFFF_FFFF) as u32
}

/// Encodes a point in the given latitude range (Redis's ranges: Mercator limits for
/// scores, ±90 for GEOHASH strings).
fn encode(lon: f64, lat: f64, lat_range: (f64, f64), step: u8) -> Hash {
    let lat_off = (lat - lat_range.0) / (lat_range.1 - lat_range.0) * (1u64 << step) as f64;
    let lon_off = (lon - LONG_MIN) / (LONG_MAX - LONG_MIN) * (1u64 << step) as f64;
    Hash {
        bits: spread(lat_off as u32) | (spread(lon_off as u32) << 1),
        step,
    }
}

fn decode(h: Hash) -> Area {
    let ilat = f64::from(squash(h.bits));
    let ilon = f64::from(squash(h.bits >> 1));
    let cells = (1u64 << h.step) as f64;
    let (lat_scale, lon_scale) = (LAT_MAX - LAT_MIN, LONG_MAX - LONG_MIN);
    Area {
        lat: (
            LAT_MIN + (ilat / cells) * lat_scale,
            LAT_MIN + ((ilat + 1.0) / cells) * lat_scale,
        ),
        lon: (
            LONG_MIN + (ilon / cells) * lon_scale,
            LONG_MIN + ((ilon + 1.0) / cells) * lon_scale,
        ),
    }
}

/// The point a score stands for: the centre of its cell.
fn point(score: f64) -> (f64, f64) {
    let a = decode(Hash {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((a.lon.0 + a.lon.1) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((a.lat.0 + a.lat.1) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

fn lat_distance(lat1: f64, lat2: f64) -> f64 {
    EARTH_RADIUS * (lat2 * D_R - lat1 * D_R).abs()
}

/// Haversine distance in meters, as Redis computes it.
fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let v = ((lon2 * D_R - lon1 * D_R) / 2.0).sin();
    if v == 0.0 {
        return lat_distance(lat1, lat2);
    }
    let (lat1r, lat2r) = (lat1 * D_R, lat2 * D_R);
    let u = ((lat2r - lat1r) / 2.0).sin();
    let a = u * u + lat1r.cos() * lat2r.cos() * v * v;
    2.0 * EARTH_RADIUS * a.sqrt().asin()
}

/// Moves a cell one step along the axis whose bits `moving` selects (longitude: odd
/// bits; latitude: even bits), wrapping around as Redis's geohash_move_x/y do.
fn move_along(h: &mut Hash, d: i8, moving: u64) {
    let fixed = !moving;
    let shift = 64 - u32::from(h.step) * 2;
    let zz = fixed >> shift;
    let m = h.bits & moving;
    let m = if d > 0 {
        m.wrapping_add(zz + 1)
    } else {
        (m | zz).wrapping_sub(zz + 1)
    } & (moving >> shift);
    h.bits = m | (h.bits & fixed);
}

fn move_x(h: &mut Hash, d: i8) {
    move_along(h, d, 0xaaaa_aaaa_aaaa_aaaa);
}

fn move_y(h: &mut Hash, d: i8) {
    move_along(h, d, 0x5555_5555_5555_5555);
}

/// What to search: a circle or a box around a centre, sizes in meters.
#[derive(Clone, Copy, Debug)]
enum Shape {
    Radius(f64),
    Box(f64, f64),
}

/// The cells to look in, in Redis's order (own, N, S, E, W, NE, NW, SE, SW); `None` for
/// those that cannot hold a match.
fn cells(lon: f64, lat: f64, shape: Shape) -> [Option<Hash>; 9] {
    let (half_h, half_w) = match shape {
        Shape::Radius(r) => (r, r),
        Shape::Box(w, h) => (h / 2.0, w / 2.0),
    };
    let lat_delta = (half_h / EARTH_RADIUS) / D_R;
    let lon_top = (half_w / EARTH_RADIUS / ((lat + lat_delta) * D_R).cos()) / D_R;
    let lon_bottom = (half_w / EARTH_RADIUS / ((lat - lat_delta) * D_R).cos()) / D_R;
    let south = lat < 0.0;
    let min_lon = if south {
        lon - lon_bottom
    } else {
        lon - lon_top
    };
    let max_lon = if south {
        lon + lon_bottom
    } else {
        lon + lon_top
    };
    let (min_lat, max_lat) = (lat - lat_delta, lat + lat_delta);
    let radius = match shape {
        Shape::Radius(r) => r,
        Shape::Box(w, h) => ((w / 2.0) * (w / 2.0) + (h / 2.0) * (h / 2.0)).sqrt(),
    };
    let mut steps = steps_for(radius, lat);
    let around = |steps: u8| {
        let h = encode(lon, lat, (LAT_MIN, LAT_MAX), steps);
        let n = |dx: i8, dy: i8| {
            let mut c = h;
            if dx != 0 {
                move_x(&mut c, dx);
            }
            if dy != 0 {
                move_y(&mut c, dy);
            }
            c
        };
        [
            h,
            n(0, 1),
            n(0, -1),
            n(1, 0),
            n(-1, 0),
            n(1, 1),
            n(-1, 1),
            n(1, -1),
            n(-1, -1),
        ]
    };
    let mut hs = around(steps);
    let (north, south_c, east, west) = (decode(hs[1]), decode(hs[2]), decode(hs[3]), decode(hs[4]));
    let too_coarse = north.lat.1 < max_lat
        || south_c.lat.0 > min_lat
        || east.lon.1 < max_lon
        || west.lon.0 > min_lon;
    if steps > 1 && too_coarse {
        steps -= 1;
        hs = around(steps);
    }
    let mut out: [Option<Hash>; 9] = hs.map(Some);
    if steps >= 2 {
        let area = decode(hs[0]);
        let mut drop = |idx: &[usize]| {
            for &i in idx {
                out[i] = None;
            }
        };
        if area.lat.0 < min_lat {
            drop(&[2, 8, 7]);
        }
        if area.lat.1 > max_lat {
            drop(&[1, 5, 6]);
        }
        if area.lon.0 < min_lon {
            drop(&[4, 8, 6]);
        }
        if area.lon.1 > max_lon {
            drop(&[3, 7, 5]);
        }
    }
    out
}

fn steps_for(mut range: f64, lat: f64) -> u8 {
    if range == 0.0 {
        return STEP_MAX;
    }
    let mut step: i32 = 1;
    while range < MERCATOR_MAX {
        range *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, i32::from(STEP_MAX)) as u8
}

/// One match.
struct Found {
    member: Blob,
    score: f64,
    dist: f64,
    lon: f64,
    lat: f64,
}

/// Sorts `v` enough that positions `0..=last` hold what a full sort would put there: the
/// quicksort of Bentley and McIlroy ("Engineering a Sort Function") that skips partitions
/// outside that range, step for step as Redis 7.0 runs it (without the switch to insertion
/// sort of later versions), so equal elements end in the same order.
fn partial_sort<T>(v: &mut [T], last: usize, cmp: &impl Fn(&T, &T) -> Ordering) {
    let (mut lo, mut n) = (0usize, v.len());
    let insertion = |v: &mut [T], lo: usize, n: usize| {
        for m in lo + 1..lo + n {
            let mut l = m;
            while l > lo && cmp(&v[l - 1], &v[l]) == Ordering::Greater {
                v.swap(l, l - 1);
                l -= 1;
            }
        }
    };
    let med3 = |v: &[T], a: usize, b: usize, c: usize| {
        if cmp(&v[a], &v[b]) == Ordering::Less {
            if cmp(&v[b], &v[c]) == Ordering::Less {
                b
            } else if cmp(&v[a], &v[c]) == Ordering::Less {
                c
            } else {
                a
            }
        } else if cmp(&v[b], &v[c]) == Ordering::Greater {
            b
        } else if cmp(&v[a], &v[c]) == Ordering::Less {
            a
        } else {
            c
        }
    };
    // The range [lo, lo + len) matters when it holds any of 0..=last.
    let wanted = |lo: usize, len: usize| lo <= last && len > 0;
    loop {
        if n < 7 {
            insertion(v, lo, n);
            return;
        }
        let mut pm = lo + n / 2;
        if n > 7 {
            let mut pl = lo;
            let mut pn = lo + n - 1;
            if n > 40 {
                let d = n / 8;
                pl = med3(v, pl, pl + d, pl + 2 * d);
                pm = med3(v, pm - d, pm, pm + d);
                pn = med3(v, pn - 2 * d, pn - d, pn);
            }
            pm = med3(v, pl, pm, pn);
        }
        v.swap(lo, pm);
        // Pivot at lo; equal elements gather at both ends, then move to the middle.
        let (mut pa, mut pb) = (lo + 1, lo + 1);
        let (mut pc, mut pd) = (lo + n - 1, lo + n - 1);
        loop {
            while pb <= pc {
                let c = cmp(&v[pb], &v[lo]);
                if c == Ordering::Greater {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pa, pb);
                    pa += 1;
                }
                pb += 1;
            }
            while pb <= pc {
                let c = cmp(&v[pc], &v[lo]);
                if c == Ordering::Less {
                    break;
                }
                if c == Ordering::Equal {
                    v.swap(pc, pd);
                    pd -= 1;
                }
                pc -= 1;
            }
            if pb > pc {
                break;
            }
            v.swap(pb, pc);
            pb += 1;
            pc -= 1;
        }
        let pn = lo + n;
        let r = (pa - lo).min(pb - pa);
        swap_block(v, lo, pb - r, r);
        let r = (pd - pc).min(pn - pd - 1);
        swap_block(v, pb, pn - r, r);
        let left = pb - pa;
        if left > 1 && wanted(lo, left) {
            partial_sort_from(v, lo, left, last, cmp);
        }
        let right = pd - pc;
        if right > 1 && wanted(pn - right, right) {
            lo = pn - right;
            n = right;
            continue;
        }
        return;
    }
}

/// [`partial_sort`] of `v[lo..lo + n]` with positions counted in the whole slice.
fn partial_sort_from<T>(
    v: &mut [T],
    lo: usize,
    n: usize,
    last: usize,
    cmp: &impl Fn(&T, &T) -> Ordering,
) {
    partial_sort(&mut v[lo..lo + n], last.saturating_sub(lo), cmp);
}

/// Swaps the `n` elements at `a` with the `n` at `b`, pairwise in order.
fn swap_block<T>(v: &mut [T], a: usize, b: usize, n: usize) {
    for i in 0..n {
        v.swap(a + i, b + i);
    }
}

/// Members of `z` within `shape` of (lon, lat), in Redis's order; stops at `limit` (ANY).
fn matches_in(z: &ZSet, lon: f64, lat: f64, shape: Shape, limit: usize) -> Vec<Found> {
    let mut found = Vec::new();
    let cells = cells(lon, lat, shape);
    let mut last: Option<Hash> = None;
    for c in cells.into_iter().flatten() {
        // A huge radius makes neighbours repeat: look at each cell once.
        if last == Some(c) {
            continue;
        }
        if limit > 0 && found.len() >= limit {
            break;
        }
        last = Some(c);
        let shift = 52 - u32::from(c.step) * 2;
        let (min, max) = ((c.bits << shift) as f64, ((c.bits + 1) << shift) as f64);
        let idx = z.index();
        let start = idx.count_below(|(s, _)| s < min);
        let end = idx.count_below(|(s, _)| s < max);
        idx.walk(start, end, false, |score, m| {
            let (plon, plat) = point(score);
            let hit = match shape {
                Shape::Radius(r) => {
                    let d = distance(lon, lat, plon, plat);
                    (d <= r).then_some(d)
                }
                Shape::Box(w, h) => {
                    if lat_distance(plat, lat) > h / 2.0
                        || distance(plon, plat, lon, plat) > w / 2.0
                    {
                        None
                    } else {
                        Some(distance(lon, lat, plon, plat))
                    }
                }
            };
            if let Some(dist) = hit {
                found.push(Found {
                    member: m.into(),
                    score,
                    dist,
                    lon: plon,
                    lat: plat,
                });
            }
            limit == 0 || found.len() < limit
        });
    }
    found
}

fn float(b: &[u8]) -> Result<f64, CmdError> {
    parse_f64(b).ok_or(CmdError::NotFloat)
}

fn float_or(b: &[u8], msg: &str) -> Result<f64, CmdError> {
    parse_f64(b).ok_or_else(|| CmdError::msg(format!("ERR {msg}")))
}

fn lon_lat(a: &[&[u8]]) -> Result<(f64, f64), CmdError> {
    let (lon, lat) = (float(a[0])?, float(a[1])?);
    if !(LONG_MIN..=LONG_MAX).contains(&lon) || !(LAT_MIN..=LAT_MAX).contains(&lat) {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

fn unit(b: &[u8]) -> Result<f64, CmdError> {
    match String::from_utf8_lossy(b).to_ascii_lowercase().as_str() {
        "m" => Ok(1.0),
        "km" => Ok(1000.0),
        "ft" => Ok(0.3048),
        "mi" => Ok(1609.34),
        _ => Err(CmdError::msg(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        )),
    }
}

fn radius(a: &[&[u8]]) -> Result<(f64, f64), CmdError> {
    let r = float_or(a[0], "need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::msg("ERR radius cannot be negative"));
    }
    Ok((r, unit(a[1])?))
}

/// "%.4f", as Redis prints distances.
fn put_distance(out: &mut Out, d: f64) {
    out.bulk(format!("{d:.4}").as_bytes());
}

/// "%.17Lf" without trailing zeros, as Redis prints coordinates.
fn put_coord(out: &mut Out, v: f64) {
    let mut s = format!("{v:.17}");
    while s.ends_with('0') {
        s.pop();
    }
    if s.ends_with('.') {
        s.pop();
    }
    if out.resp3 {
        out.raw(format!(",{s}\r\n").as_bytes());
    } else {
        out.bulk(s.as_bytes());
    }
}

/// GEOADD key [NX|XX] [CH] longitude latitude member [...]
pub fn geoadd(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let mut i = 2;
    let mut flags = Vec::new();
    let (mut nx, mut xx) = (false, false);
    while i < a.len() {
        let u = a.upper(i);
        if matches!(u.as_str(), "NX" | "XX" | "CH") {
            nx |= u == "NX";
            xx |= u == "XX";
            flags.push(a.0[i]);
            i += 1;
        } else {
            break;
        }
    }
    let rest = a.from(i);
    if !rest.len().is_multiple_of(3) || (nx && xx) {
        return Err(CmdError::Syntax);
    }
    let mut scores = Vec::with_capacity(rest.len() / 3);
    for t in rest.chunks(3) {
        let (lon, lat) = lon_lat(&t[..2])?;
        let h = encode(lon, lat, (LAT_MIN, LAT_MAX), STEP_MAX);
        scores.push((h.bits as f64).to_string());
    }
    let mut z: Vec<&[u8]> = vec![b"zadd", a.0[1]];
    z.extend(flags);
    for (t, score) in rest.chunks(3).zip(&scores) {
        z.push(score.as_bytes());
        z.push(t[2]);
    }
    zadd(e, Args(&z), out)
}

/// GEOPOS key [member ...]
pub fn geopos(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let z = get_zset(e, a.get(1))?;
    out.array(a.len() - 2);
    for m in a.from(2) {
        match z.and_then(|z| z.score(m)) {
            None => out.null_array(),
            Some(s) => {
                let (lon, lat) = point(s);
                out.array(2);
                put_coord(out, lon);
                put_coord(out, lat);
            }
        }
    }
    Ok(())
}

/// GEODIST key member1 member2 [M|KM|FT|MI]
pub fn geodist(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let to_m = match a.len() {
        4 => 1.0,
        5 => unit(a.get(4))?,
        _ => return Err(CmdError::Syntax),
    };
    let Some(z) = get_zset(e, a.get(1))? else {
        out.null();
        return Ok(());
    };
    match (z.score(a.get(2)), z.score(a.get(3))) {
        (Some(s1), Some(s2)) => {
            let (p1, p2) = (point(s1), point(s2));
            put_distance(out, distance(p1.0, p1.1, p2.0, p2.1) / to_m);
        }
        _ => out.null(),
    }
    Ok(())
}

/// GEOHASH key [member ...]
pub fn geohash(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";
    let z = get_zset(e, a.get(1))?;
    out.array(a.len() - 2);
    for m in a.from(2) {
        match z.and_then(|z| z.score(m)) {
            None => out.null(),
            Some(s) => {
                let (lon, lat) = point(s);
                let h = encode(lon, lat, (-90.0, 90.0), STEP_MAX);
                let s: Vec<u8> = (0..11)
                    .map(|i| {
                        let idx = if i == 10 {
                            0
                        } else {
                            (h.bits >> (52 - (i + 1) * 5)) & 0x1f
                        };
                        ALPHABET[idx as usize]
                    })
                    .collect();
                out.bulk(&s);
            }
        }
    }
    Ok(())
}

/// Which search command is running.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Form {
    Radius,
    RadiusMember,
    Search,
    SearchStore,
}

/// GEORADIUS, GEORADIUSBYMEMBER (and _RO), GEOSEARCH, GEOSEARCHSTORE.
pub fn georadius(e: &mut Engine, a: Args, out: &mut Out) -> CmdResult {
    let name = a.name();
    let (form, nostore) = match name.as_str() {
        "georadius" => (Form::Radius, false),
        "georadius_ro" => (Form::Radius, true),
        "georadiusbymember" => (Form::RadiusMember, false),
        "georadiusbymember_ro" => (Form::RadiusMember, true),
        "geosearch" => (Form::Search, true),
        _ => (Form::SearchStore, true),
    };
    let src = if form == Form::SearchStore {
        a.get(2)
    } else {
        a.get(1)
    };
    // The source's type is checked before anything is parsed, as in Redis.
    let exists = get_zset(e, src)?.is_some();
    let member_point = |e: &mut Engine, m: &[u8]| -> Result<(f64, f64), CmdError> {
        get_zset(e, src)?
            .and_then(|z| z.score(m))
            .map(point)
            .ok_or_else(|| CmdError::msg("ERR could not decode requested zset member"))
    };
    let mut center: Option<(f64, f64)> = None;
    let mut shape: Option<(Shape, f64)> = None;
    let base = match form {
        Form::Radius => {
            center = Some(lon_lat(&a.0[2..4])?);
            let (r, u) = radius(&a.0[4..6])?;
            shape = Some((Shape::Radius(r), u));
            6
        }
        Form::RadiusMember => {
            // Redis looks at the member and the radius only when the key exists.
            if exists {
                center = Some(member_point(e, a.get(2))?);
                let (r, u) = radius(&a.0[3..5])?;
                shape = Some((Shape::Radius(r), u));
            }
            5
        }
        Form::Search => 2,
        Form::SearchStore => 3,
    };
    let search = matches!(form, Form::Search | Form::SearchStore);
    let (mut withdist, mut withhash, mut withcoord, mut any) = (false, false, false, false);
    let mut sort: Option<bool> = None; // Some(true) = ascending
    let mut count: i64 = 0;
    let mut store: Option<Blob> = if form == Form::SearchStore {
        Some(a.get(1).into())
    } else {
        None
    };
    let mut storedist = false;
    let (mut frommember, mut fromloc, mut byradius, mut bybox) = (false, false, false, false);
    let rest = a.from(base);
    let n = rest.len();
    let mut i = 0;
    while i < n {
        let arg = String::from_utf8_lossy(rest[i]).to_ascii_lowercase();
        match arg.as_str() {
            "withdist" => withdist = true,
            "withhash" => withhash = true,
            "withcoord" => withcoord = true,
            "any" => any = true,
            "asc" => sort = Some(true),
            "desc" => sort = Some(false),
            "count" if i + 1 < n => {
                count = concord_crdt::num::parse_i64(rest[i + 1]).ok_or(CmdError::NotInt)?;
                if count <= 0 {
                    return Err(CmdError::msg("ERR COUNT must be > 0"));
                }
                i += 1;
            }
            "store" | "storedist" if i + 1 < n && !nostore && !search => {
                store = Some(rest[i + 1][..].into());
                storedist = arg == "storedist";
                i += 1;
            }
            "storedist" if form == Form::SearchStore => storedist = true,
            "frommember" if i + 1 < n && search && !fromloc => {
                if exists {
                    center = Some(member_point(e, rest[i + 1])?);
                }
                frommember = true;
                i += 1;
            }
            "fromlonlat" if i + 2 < n && search && !frommember => {
                center = Some(lon_lat(&rest[i + 1..i + 3])?);
                fromloc = true;
                i += 2;
            }
            "byradius" if i + 2 < n && search && !bybox => {
                let (r, u) = radius(&rest[i + 1..i + 3])?;
                shape = Some((Shape::Radius(r), u));
                byradius = true;
                i += 2;
            }
            "bybox" if i + 3 < n && search && !byradius => {
                let w = float_or(rest[i + 1], "need numeric width")?;
                let h = float_or(rest[i + 2], "need numeric height")?;
                if w < 0.0 || h < 0.0 {
                    return Err(CmdError::msg("ERR height or width cannot be negative"));
                }
                shape = Some((Shape::Box(w, h), unit(rest[i + 3])?));
                bybox = true;
                i += 3;
            }
            _ => return Err(CmdError::Syntax),
        }
        i += 1;
    }
    if store.is_some() && (withdist || withhash || withcoord) {
        return Err(CmdError::msg(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if form == Form::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    if search && !(frommember || fromloc) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {}",
            String::from_utf8_lossy(a.get(0))
        )));
    }
    if search && !(byradius || bybox) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {}",
            String::from_utf8_lossy(a.get(0))
        )));
    }
    if any && count == 0 {
        return Err(CmdError::msg(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    let (Some(z), Some((lon, lat)), Some((shape, conv))) = (get_zset(e, src)?, center, shape)
    else {
        match store {
            Some(dst) => {
                if e.lookup(&dst, true).is_some() {
                    e.emit(&dst, OpKind::DelKey);
                    e.notify(N::GENERIC, "del", &dst);
                }
                out.int(0);
            }
            None => out.array(0),
        }
        return Ok(());
    };
    if count != 0 && sort.is_none() && !any {
        sort = Some(true);
    }
    let meters = match shape {
        Shape::Radius(r) => Shape::Radius(r * conv),
        Shape::Box(w, h) => Shape::Box(w * conv, h * conv),
    };
    let limit = if any { count as usize } else { 0 };
    let mut found = matches_in(z, lon, lat, meters, limit);
    if let Some(asc) = sort {
        let by = |x: &Found, y: &Found| {
            let o = x.dist.partial_cmp(&y.dist).unwrap_or(Ordering::Equal);
            if asc { o } else { o.reverse() }
        };
        let returned = if count > 0 {
            (count as usize).min(found.len())
        } else {
            found.len()
        };
        // Redis sorts everything with libc's qsort (a stable merge sort in glibc) but only
        // the first COUNT with its partial quicksort, whose order of equal distances is
        // its own: follow both so ties come out as Redis's do.
        if returned == found.len() {
            found.sort_by(by);
        } else if returned > 0 {
            partial_sort(&mut found, returned - 1, &by);
        }
    }
    if count > 0 {
        found.truncate(count as usize);
    }
    match store {
        None => {
            let opts = usize::from(withdist) + usize::from(withhash) + usize::from(withcoord);
            out.array(found.len());
            for f in &found {
                if opts > 0 {
                    out.array(opts + 1);
                }
                out.bulk(&f.member);
                if withdist {
                    put_distance(out, f.dist / conv);
                }
                if withhash {
                    out.int(f.score as i64);
                }
                if withcoord {
                    out.array(2);
                    put_coord(out, f.lon);
                    put_coord(out, f.lat);
                }
            }
        }
        Some(dst) => {
            let items: Vec<(Blob, f64)> = found
                .iter()
                .map(|f| {
                    let s = if storedist { f.dist / conv } else { f.score };
                    (f.member.clone(), s)
                })
                .collect();
            let n = items.len();
            if n > 0 {
                restore(e, &dst, Content::ZSet(items), None);
                let event = if search {
                    "geosearchstore"
                } else {
                    "georadiusstore"
                };
                e.notify(N::ZSET, event, &dst);
            } else if e.lookup(&dst, true).is_some() {
                e.emit(&dst, OpKind::DelKey);
                e.notify(N::GENERIC, "del", &dst);
            }
            out.int(n as i64);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_sort_orders_the_prefix_and_ties_as_redis() {
        // Ties (distance 0) come out as Redis 7.0 returned them for COUNT 3 and COUNT 9.
        let dists = [
            0.0251, 0.0291, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 2711.0, 2782.0, 13906.0,
            13915.0, 14005.0, 9417.0, 14744.0, 14804.0, 15993.0, 19899.0, 19944.0,
        ];
        let by = |x: &(usize, f64), y: &(usize, f64)| x.1.total_cmp(&y.1);
        for (last, want) in [(2, &[9, 7, 8][..]), (8, &[9, 7, 8, 2, 3, 4, 5, 6, 0][..])] {
            let mut v: Vec<(usize, f64)> = dists.iter().copied().enumerate().collect();
            partial_sort(&mut v, last, &by);
            let got: Vec<usize> = v[..=last].iter().map(|x| x.0).collect();
            assert_eq!(got, want);
        }
        // Random inputs: the prefix is what a full sort puts there.
        let mut x = 12345u64;
        for n in 0..200usize {
            let mut v: Vec<(usize, f64)> = (0..n)
                .map(|i| {
                    x = x
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    (i, ((x >> 33) % 50) as f64)
                })
                .collect();
            let mut full = v.clone();
            full.sort_by(by);
            let last = if n == 0 { 0 } else { (x as usize) % n };
            partial_sort(&mut v, last, &by);
            if n > 0 {
                let a: Vec<f64> = v[..=last].iter().map(|p| p.1).collect();
                let b: Vec<f64> = full[..=last].iter().map(|p| p.1).collect();
                assert_eq!(a, b, "n={n} last={last}");
            }
        }
    }

    #[test]
    fn interleaving_roundtrips() {
        for v in [0u32, 1, 0x3ff_ffff, 0x155_5555, 12345] {
            assert_eq!(squash(spread(v)), v);
        }
        let h = encode(13.361389, 38.115556, (LAT_MIN, LAT_MAX), STEP_MAX);
        // Redis's score for Palermo in its documentation.
        assert_eq!(h.bits, 3_479_099_956_230_698);
        let (lon, lat) = point(h.bits as f64);
        assert!((lon - 13.361389).abs() < 1e-5 && (lat - 38.115556).abs() < 1e-5);
    }
}
