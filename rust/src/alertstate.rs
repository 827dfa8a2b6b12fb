//! The alert node's per-group state machine (Kapacitor's `alertState`) for every group of one
//! node, in flat columns indexed by the node's group code, and the per-point decision over a
//! whole chunk: the level of each point (from the level lambdas' masks, evaluated columnar
//! before), the history ring, flapping, `stateChangesOnly` expiry and the trigger times. What
//! comes back is only the points that make an event; Python builds events for those alone.
//!
//! The rules (kept identical to what `tests/engine/alert/reference.py` spells out row by row):
//! - level: check CRITICAL down to the current level (at least INFO), first match wins; else, if
//!   the current level's reset lambda is false (`hold`), stay; else check from the current level
//!   down to INFO; none is OK.
//! - the history is a ring of the last `ring` levels, initially OK; `changed` compares the new
//!   level with the current one; flapping is the weighted fraction of changes over the ring
//!   (newest change weighted `WEIGHT_DIFF` times the oldest, the newest weight `MAX_WEIGHT`).
//! - an OK level is sent when it changed (on a stream edge only when not flapping); another level
//!   is sent unless flapping, or `stateChangesOnly` and unchanged and not expired.

pub const OK: u8 = 0;
pub const INFO: u8 = 1;
pub const CRITICAL: u8 = 3;

const WEIGHT_DIFF: f64 = 1.5;
const MAX_WEIGHT: f64 = 1.2;
/// Go's zero time: "never triggered".
const NEVER: i64 = i64::MIN;

const FLAPPING: u8 = 1;
const CHANGED: u8 = 2;
const EXPIRED: u8 = 4;

/// The node properties that drive state changes and event emission.
#[derive(Clone, Debug, PartialEq)]
pub struct Rules {
    /// the history ring's length (2 without flapping: only the current and previous level are read)
    pub ring: usize,
    pub flapping: Option<(f64, f64)>,
    pub state_changes_only: bool,
    pub max_interval_ns: i64,
    pub no_recoveries: bool,
}

/// One group's state, as a checkpoint or `explain` reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct GroupState {
    pub history: Vec<u8>,
    pub idx: usize,
    pub flapping: bool,
    pub changed: bool,
    pub expired: bool,
    pub first_triggered: Option<i64>,
    pub last_triggered: Option<i64>,
}

/// The level lambdas' results of one chunk: `matches[l][i]` is non-zero when level `l`'s lambda
/// is true for row `i`; `holds[l][i]` when level `l`'s reset lambda is false (the level holds).
pub struct LevelMasks<'a> {
    pub matches: [Option<&'a [u8]>; 4],
    pub holds: [Option<&'a [u8]>; 4],
}

impl LevelMasks<'_> {
    fn level(&self, i: usize, current: u8) -> u8 {
        let hit = |l: u8| self.matches[l as usize].is_some_and(|m| m[i] != 0);
        let mut l = CRITICAL;
        while l >= current.max(INFO) {
            if hit(l) {
                return l;
            }
            l -= 1;
        }
        if current != OK {
            if self.holds[current as usize].is_some_and(|h| h[i] != 0) {
                return current;
            }
            let mut l = current - 1;
            while l > OK {
                if hit(l) {
                    return l;
                }
                l -= 1;
            }
        }
        OK
    }
}

/// An event to send: the row that made it, its level and the alert's duration then.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fired {
    pub row: u32,
    pub level: u8,
    pub duration: i64,
}

/// Every group's alert state of one alert node, in columns indexed by group code.
#[derive(Clone, Debug)]
pub struct AlertStates {
    pub rules: Rules,
    history: Vec<u8>,
    idx: Vec<u32>,
    flags: Vec<u8>,
    first: Vec<i64>,
    last: Vec<i64>,
}

impl AlertStates {
    pub fn new(mut rules: Rules) -> Self {
        rules.ring = rules.ring.max(2);
        AlertStates {
            rules,
            history: Vec::new(),
            idx: Vec::new(),
            flags: Vec::new(),
            first: Vec::new(),
            last: Vec::new(),
        }
    }

    /// How many group codes have a slot.
    pub fn len(&self) -> usize {
        self.idx.len()
    }

    pub fn is_empty(&self) -> bool {
        self.idx.is_empty()
    }

    /// Makes sure `code` has a slot (a fresh one: every level OK, never triggered).
    pub fn ensure(&mut self, code: u32) {
        let n = code as usize + 1;
        if n > self.idx.len() {
            self.history.resize(n * self.rules.ring, OK);
            self.idx.resize(n, 0);
            self.flags.resize(n, 0);
            self.first.resize(n, NEVER);
            self.last.resize(n, NEVER);
        }
    }

    /// Back to a fresh state (a deleted group; its code may be given to another group).
    pub fn reset(&mut self, code: u32) {
        let g = code as usize;
        if g < self.idx.len() {
            let r = self.rules.ring;
            self.history[g * r..(g + 1) * r].fill(OK);
            self.idx[g] = 0;
            self.flags[g] = 0;
            self.first[g] = NEVER;
            self.last[g] = NEVER;
        }
    }

    fn ring(&self, g: usize) -> &[u8] {
        let r = self.rules.ring;
        &self.history[g * r..(g + 1) * r]
    }

    pub fn level(&self, code: u32) -> u8 {
        let g = code as usize;
        if g >= self.idx.len() {
            return OK;
        }
        self.ring(g)[self.idx[g] as usize]
    }

    pub fn previous_level(&self, code: u32) -> u8 {
        let g = code as usize;
        if g >= self.idx.len() {
            return OK;
        }
        let r = self.rules.ring;
        self.ring(g)[(self.idx[g] as usize + r - 1) % r]
    }

    fn flag(&self, g: usize, f: u8) -> bool {
        g < self.flags.len() && self.flags[g] & f != 0
    }

    fn set_flag(&mut self, g: usize, f: u8, on: bool) {
        if on {
            self.flags[g] |= f;
        } else {
            self.flags[g] &= !f;
        }
    }

    /// Records `level` in the history (Kapacitor's `addEvent`).
    pub fn add_event(&mut self, code: u32, level: u8) {
        self.ensure(code);
        let g = code as usize;
        let r = self.rules.ring;
        let cur = self.history[g * r + self.idx[g] as usize];
        self.set_flag(g, CHANGED, cur != level);
        let next = (self.idx[g] as usize + 1) % r;
        self.idx[g] = next as u32;
        self.history[g * r + next] = level;
    }

    /// The weighted fraction of level changes over the history ring.
    pub fn percent_change(&self, code: u32) -> f64 {
        let g = code as usize;
        if g >= self.idx.len() {
            return 0.0;
        }
        let hist = self.ring(g);
        let n = hist.len();
        let idx = self.idx[g] as usize;
        let mut weight = MAX_WEIGHT / WEIGHT_DIFF;
        let step = (MAX_WEIGHT - weight) / (n - 1) as f64;
        let mut changes = 0.0;
        for i in 0..n - 1 {
            let c = (i + idx) % n;
            let p = (c + n - 1) % n;
            if hist[c] != hist[p] {
                changes += weight;
            }
            weight += step;
        }
        changes / (n - 1) as f64
    }

    /// Kapacitor's `updateState`: history, flapping, and whether an unchanged level expired.
    pub fn update(&mut self, code: u32, t_ns: i64, level: u8) {
        self.add_event(code, level);
        let g = code as usize;
        if let Some((low, high)) = self.rules.flapping {
            let p = self.percent_change(code);
            let flapping = self.flag(g, FLAPPING);
            if flapping && p < low {
                self.set_flag(g, FLAPPING, false);
            } else if !flapping && p > high {
                self.set_flag(g, FLAPPING, true);
            }
        }
        let mi = self.rules.max_interval_ns;
        let last = self.last[g];
        let expired =
            !self.flag(g, CHANGED) && mi != 0 && (last == NEVER || t_ns.wrapping_sub(last) >= mi);
        self.set_flag(g, EXPIRED, expired);
    }

    /// Whether the level just recorded makes an event (before `noRecoveries`). On a batch edge a
    /// recovery is sent even while the group is flapping (Kapacitor's edges differ there).
    pub fn should_trigger(&self, code: u32, level: u8, batch: bool) -> bool {
        let g = code as usize;
        let flapping = self.rules.flapping.is_some() && self.flag(g, FLAPPING);
        if level == OK {
            return self.flag(g, CHANGED) && (batch || !flapping);
        }
        if flapping {
            return false;
        }
        !(self.rules.state_changes_only && !self.flag(g, CHANGED) && !self.flag(g, EXPIRED))
    }

    /// An event fired at `t_ns`; the first one since OK starts the alert's duration.
    pub fn triggered(&mut self, code: u32, t_ns: i64) {
        self.ensure(code);
        let g = code as usize;
        self.last[g] = t_ns;
        if self.previous_level(code) == OK || self.first[g] == NEVER {
            self.first[g] = t_ns;
        }
    }

    pub fn duration(&self, code: u32) -> i64 {
        let g = code as usize;
        if g >= self.idx.len() || self.last[g] == NEVER || self.first[g] == NEVER {
            return 0;
        }
        self.last[g].wrapping_sub(self.first[g])
    }

    /// Continues a non-OK alert saved before a restart (no event is sent for it).
    pub fn restore(&mut self, code: u32, level: u8, time_ns: i64, duration_ns: i64) {
        if level == OK {
            return;
        }
        self.add_event(code, level);
        let g = code as usize;
        self.first[g] = time_ns.wrapping_sub(duration_ns);
        self.last[g] = time_ns;
    }

    pub fn get(&self, code: u32) -> GroupState {
        let g = code as usize;
        if g >= self.idx.len() {
            return GroupState {
                history: vec![OK; self.rules.ring],
                idx: 0,
                flapping: false,
                changed: false,
                expired: false,
                first_triggered: None,
                last_triggered: None,
            };
        }
        let opt = |v: i64| (v != NEVER).then_some(v);
        GroupState {
            history: self.ring(g).to_vec(),
            idx: self.idx[g] as usize,
            flapping: self.flag(g, FLAPPING),
            changed: self.flag(g, CHANGED),
            expired: self.flag(g, EXPIRED),
            first_triggered: opt(self.first[g]),
            last_triggered: opt(self.last[g]),
        }
    }

    /// Sets one group's whole state (a checkpoint); an error when its shape does not fit.
    pub fn set(&mut self, code: u32, s: &GroupState) -> Result<(), String> {
        let r = self.rules.ring;
        if s.history.len() != r || s.idx >= r {
            return Err("alert history of another length".into());
        }
        if s.history.iter().any(|&l| l > CRITICAL) {
            return Err("alert level out of range".into());
        }
        self.ensure(code);
        let g = code as usize;
        self.history[g * r..(g + 1) * r].copy_from_slice(&s.history);
        self.idx[g] = s.idx as u32;
        self.flags[g] = 0;
        self.set_flag(g, FLAPPING, s.flapping);
        self.set_flag(g, CHANGED, s.changed);
        self.set_flag(g, EXPIRED, s.expired);
        self.first[g] = s.first_triggered.unwrap_or(NEVER);
        self.last[g] = s.last_triggered.unwrap_or(NEVER);
        Ok(())
    }

    /// Whether every listed code is at OK (codes without a slot are).
    pub fn all_ok(&self, codes: &[u32]) -> bool {
        codes.iter().all(|&c| self.level(c) == OK)
    }

    /// The per-point decision of a stream chunk: row `i` is of group `remap[codes[i]]` at
    /// `times[i]`. Returns the points that make an event, in row order. Errors (nothing
    /// changed) when a row's code is out of range or a mask is shorter than the chunk.
    pub fn decide(
        &mut self,
        masks: &LevelMasks<'_>,
        codes: &[u32],
        remap: &[u32],
        times: &[i64],
    ) -> Result<Vec<Fired>, String> {
        let n = codes.len();
        if times.len() != n {
            return Err(format!("{} times for {n} rows", times.len()));
        }
        for m in masks.matches.iter().chain(masks.holds.iter()).flatten() {
            if m.len() < n {
                return Err(format!("a level mask of {} rows for {n} rows", m.len()));
            }
        }
        let mut top = 0u32;
        for &c in codes {
            let s = *remap
                .get(c as usize)
                .ok_or_else(|| format!("group code {c} out of range ({} groups)", remap.len()))?;
            if s == u32::MAX {
                return Err(format!("group code {c} has no state"));
            }
            top = top.max(s);
        }
        if n > 0 {
            self.ensure(top);
        }
        // Without flapping an OK point of an OK group changes nothing that matters (the history
        // only feeds flapping and the previous level, which stays OK).
        let skip_quiet = self.rules.flapping.is_none();
        let no_recoveries = self.rules.no_recoveries;
        let mut fired = Vec::new();
        for i in 0..n {
            let s = remap[codes[i] as usize];
            let cur = self.level(s);
            let lvl = masks.level(i, cur);
            if skip_quiet && lvl == OK && cur == OK {
                continue;
            }
            let t = times[i];
            self.update(s, t, lvl);
            if !self.should_trigger(s, lvl, false) {
                continue;
            }
            self.triggered(s, t);
            if no_recoveries && lvl == OK {
                continue;
            }
            fired.push(Fired {
                row: i as u32,
                level: lvl,
                duration: self.duration(s),
            });
        }
        Ok(fired)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(ring: usize, flapping: Option<(f64, f64)>, sco: bool) -> Rules {
        Rules {
            ring,
            flapping,
            state_changes_only: sco,
            max_interval_ns: 0,
            no_recoveries: false,
        }
    }

    #[test]
    fn decide_sends_changes_only() {
        let mut s = AlertStates::new(rules(2, None, true));
        let crit = [0u8, 1, 1, 0, 0, 1];
        let masks = LevelMasks {
            matches: [None, None, None, Some(&crit)],
            holds: [None; 4],
        };
        let times = [10, 20, 30, 40, 50, 60];
        let fired = s.decide(&masks, &[0; 6], &[7], &times).unwrap();
        let rows: Vec<u32> = fired.iter().map(|f| f.row).collect();
        assert_eq!(rows, vec![1, 3, 5]);
        assert_eq!(fired[1].level, OK);
        assert_eq!(fired[1].duration, 20); // triggered at 20, recovered at 40
        assert_eq!(s.level(7), CRITICAL);
    }

    #[test]
    fn reset_holds_the_level() {
        let mut s = AlertStates::new(rules(2, None, false));
        let crit = [1u8, 0, 0];
        let hold = [0u8, 1, 0];
        let mut holds = [None; 4];
        holds[CRITICAL as usize] = Some(&hold[..]);
        let masks = LevelMasks {
            matches: [None, None, None, Some(&crit)],
            holds,
        };
        let fired = s.decide(&masks, &[0, 0, 0], &[0], &[1, 2, 3]).unwrap();
        let levels: Vec<u8> = fired.iter().map(|f| f.level).collect();
        assert_eq!(levels, vec![CRITICAL, CRITICAL, OK]);
    }

    #[test]
    fn bad_codes_change_nothing() {
        let mut s = AlertStates::new(rules(2, None, false));
        let masks = LevelMasks {
            matches: [None; 4],
            holds: [None; 4],
        };
        assert!(s.decide(&masks, &[1], &[0], &[1]).is_err());
        assert!(s.decide(&masks, &[0], &[u32::MAX], &[1]).is_err());
        assert!(s.decide(&masks, &[0, 0], &[0], &[1]).is_err());
        assert!(s.is_empty());
    }

    #[test]
    fn state_round_trips() {
        let mut s = AlertStates::new(rules(4, Some((0.25, 0.5)), false));
        for (t, l) in [(1, 3), (2, 0), (3, 3), (4, 0)] {
            s.update(2, t, l);
        }
        assert!(s.get(2).flapping);
        let st = s.get(2);
        let mut other = AlertStates::new(rules(4, Some((0.25, 0.5)), false));
        other.set(0, &st).unwrap();
        assert_eq!(other.get(0), st);
        assert_eq!(other.percent_change(0), s.percent_change(2));
        let mut short = st.clone();
        short.history.pop();
        assert!(other.set(0, &short).is_err());
    }
}
