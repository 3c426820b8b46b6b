//! The hub's state and its work, behind the lock the engine and the hub's
//! task share (`mod.rs`): the captured pipes read and cut into lines, each
//! line to stdout, to its invoke's Tail and to the subscribers; the
//! platform lines and events written in their order.

use super::*;

#[derive(Clone, Copy)]
pub(super) enum Read {
    /// The reactor said the pipe is readable.
    Readiness,
    /// Read whatever the kernel holds now.
    Forced,
}

pub(super) struct Source {
    pub(super) pipe: pipe::Receiver,
    pub(super) origin: Origin,
    pub(super) partial: Vec<u8>,
}

pub(super) struct Hub<W> {
    pub(super) out: W,
    pub(super) events: EventLog,
    pub(super) sources: Vec<Source>,
    /// The tails being kept, by request id.
    pub(super) tails: Vec<(String, Vec<u8>)>,
    pub(super) scratch: Vec<u8>,
    pub(super) subscribers: Subscribers,
    /// `AWS_LAMBDA_LOG_FORMAT=JSON`.
    pub(super) json: bool,
    /// This environment's part of the `--timeline`.
    pub(super) timeline: Option<Recorder>,
    /// This environment's OTLP spans.
    pub(super) spans: Option<SpanMaker>,
    /// Told each invoke's memory peak.
    pub(super) memory: Option<MemoryPeaks>,
    /// The trace context of each invoke started and not yet done, by
    /// request id: `platform.runtimeDone` carries its `platform.start`'s.
    pub(super) traced: Vec<(String, Tracing)>,
}

impl<W: Write> Hub<W> {
    pub(super) fn new(out: W, events: EventLog, json: bool) -> Self {
        Hub {
            out,
            events,
            sources: Vec::new(),
            tails: Vec::new(),
            scratch: vec![0; 64 * 1024],
            subscribers: Subscribers::default(),
            json,
            timeline: None,
            spans: None,
            memory: None,
            traced: Vec::new(),
        }
    }

    /// Out with what was written, to stdout and the timeline.
    pub(super) fn flush_out(&mut self, lines: bool) {
        if lines {
            let _ = self.out.flush();
        }
        if let Some(timeline) = &mut self.timeline {
            timeline.flush();
        }
    }

    /// An invoke begins: what the pipes hold goes before its START, and
    /// from here its lines are kept for its Tail when `capture_tail`.
    pub(super) fn start(&mut self, request_id: &str, line: &str, capture_tail: bool) {
        self.drain_all();
        self.subscribers.invoke_started();
        self.tails.retain(|(id, _)| id != request_id);
        if capture_tail {
            if self.tails.len() >= MAX_TAILS {
                self.tails.remove(0);
            }
            self.tails.push((request_id.to_owned(), Vec::new()));
        }
        // In JSON, platform.start is the line.
        if !self.json {
            self.write_line(line.as_bytes());
        }
    }

    pub(super) fn handle(&mut self, message: Message) {
        match message {
            Message::Source(pipe, origin) => self.sources.push(Source {
                pipe,
                origin,
                partial: Vec::new(),
            }),
            Message::Subscribe(new) => {
                let event =
                    self.subscribers
                        .subscribe(new.extension_id, new.name, new.subscription);
                self.record(event);
            }
            // Written already: the flush that follows puts it out.
            Message::Written => {}
            Message::Line(line) => {
                self.drain_all();
                // INIT_REPORT, RESTORE_REPORT: in JSON, their events are.
                if !self.json {
                    self.write_line(line.as_bytes());
                }
            }
            Message::Event(event) => self.record(*event),
            Message::End {
                lines,
                mut report,
                tail,
            } => {
                self.drain_all();
                report.report.max_memory_used_mb = report.memory.mb();
                if let Some(memory) = &self.memory {
                    memory(report.report.max_memory_used_mb);
                }
                let event = || PlatformEvent::now(Report::of(&report.report));
                if self.json {
                    // The timeout line, then platform.report as the REPORT line.
                    for line in &lines {
                        self.write_line(line.as_bytes());
                    }
                    self.record(event());
                } else {
                    // Before the REPORT line: whoever saw REPORT finds its
                    // event. Built only for them.
                    if self.events.keeps()
                        || self.subscribers.wants_events()
                        || self.timeline.is_some()
                        || self.spans.is_some()
                    {
                        self.record(event());
                    }
                    for line in &lines {
                        self.write_line(line.as_bytes());
                    }
                    self.write_line(end_line(&report.report.request_id).as_bytes());
                    self.write_line(report_line(&report.report).as_bytes());
                }
                let id = &report.report.request_id;
                let captured = match self.tails.iter().position(|(open, _)| open == id) {
                    Some(at) => self.tails.remove(at).1,
                    None => Vec::new(),
                };
                if let Some(tail) = tail {
                    let from = captured.len().saturating_sub(TAIL_BYTES);
                    let _ = tail.send(Bytes::copy_from_slice(&captured[from..]));
                }
            }
            Message::Flush(done) => {
                self.drain_all();
                let _ = self.out.flush();
                if let Some(timeline) = &mut self.timeline {
                    timeline.flush();
                }
                let _ = done.send(());
            }
            Message::Mark(mark, time) => {
                if let Some(timeline) = &mut self.timeline {
                    timeline.mark(mark, time);
                }
            }
        }
    }

    /// Every platform event passes here, in order.
    pub(super) fn record(&mut self, mut event: PlatformEvent) {
        self.trace_context(&mut event.record);
        if let Some(timeline) = &mut self.timeline {
            timeline.event(&event);
        }
        if let Some(spans) = &mut self.spans {
            spans.event(&event);
        }
        let as_line = self.json && replaces_a_line(&event.record);
        if as_line {
            // The processes' lines written before it come first, as they
            // come before the text line it stands for.
            self.drain_all();
            // Only strings, numbers and maps: serialising cannot fail.
            if let Ok(json) = serde_json::to_vec(&event) {
                self.write_line(&json);
            }
        }
        // An init's start opens the backlog later subscribers get.
        let init_start = matches!(event.record, crate::events::Record::InitStart(_));
        if !(init_start || self.subscribers.wants_events()) {
            self.events.push(event);
            return;
        }
        // What the processes wrote before this moment comes before it.
        if self.subscribers.wants_lines() && !as_line {
            self.drain_all();
        }
        if self.events.keeps() {
            self.events.push(event.clone());
        }
        self.subscribers.push(Item::Event(event));
    }

    /// Gives a traced invoke's `platform.start` its span id, and its
    /// `platform.runtimeDone` the same trace context, as Lambda does: a
    /// tracer subscribed to the Telemetry API links the two.
    pub(super) fn trace_context(&mut self, record: &mut Record) {
        match record {
            Record::Start(start) => {
                let Some(tracing) = &mut start.tracing else {
                    return;
                };
                if tracing.span_id.is_none() {
                    *tracing = Tracing::with_new_span(std::mem::take(&mut tracing.value));
                }
                let id = &start.request_id;
                self.traced.retain(|(open, _)| open != id);
                if self.traced.len() >= MAX_TAILS {
                    self.traced.remove(0);
                }
                self.traced.push((id.clone(), tracing.clone()));
            }
            Record::RuntimeDone(done) if done.tracing.is_none() => {
                let id = &done.request_id;
                if let Some(at) = self.traced.iter().position(|(open, _)| open == id) {
                    done.tracing = Some(self.traced.remove(at).1);
                }
            }
            _ => {}
        }
    }

    pub(super) fn drain_all(&mut self) {
        let mut index = 0;
        while index < self.sources.len() {
            if self.drain(index, Read::Forced) {
                index += 1;
            }
        }
    }

    /// Reads what source `index` has; returns false when it closed (and was removed).
    pub(super) fn drain(&mut self, index: usize, how: Read) -> bool {
        loop {
            let pipe = &self.sources[index].pipe;
            let read = match how {
                Read::Readiness => pipe.try_read(&mut self.scratch),
                // tokio's try_read answers WouldBlock until the reactor has
                // seen the pipe become readable; a forced drain must see
                // bytes written a moment ago, so it asks the kernel directly.
                Read::Forced => nix::unistd::read(pipe.as_raw_fd(), &mut self.scratch)
                    .map_err(std::io::Error::from),
            };
            match read {
                Ok(0) => {
                    let source = self.sources.swap_remove(index);
                    if !source.partial.is_empty() {
                        self.log_line(&source.partial, source.origin, SystemTime::now());
                    }
                    return false;
                }
                Ok(n) => self.take_lines(index, n),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => {
                    self.sources.swap_remove(index);
                    return false;
                }
            }
        }
    }

    pub(super) fn take_lines(&mut self, index: usize, n: usize) {
        let origin = self.sources[index].origin;
        // One time for what one read brought: the lines were written by then.
        let now = SystemTime::now();
        let mut partial = std::mem::take(&mut self.sources[index].partial);
        partial.extend_from_slice(&self.scratch[..n]);
        let mut start = 0;
        while let Some(pos) = partial[start..].iter().position(|&b| b == b'\n') {
            let end = start + pos;
            let line = &partial[start..end];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            self.log_line(line, origin, now);
            start = end + 1;
        }
        partial.drain(..start);
        while partial.len() >= MAX_LINE {
            let rest = partial.split_off(MAX_LINE);
            self.log_line(&partial, origin, now);
            partial = rest;
        }
        self.sources[index].partial = partial;
    }

    /// A line a process wrote: echoed, in the Tail, and a record for
    /// whoever subscribed to its origin.
    pub(super) fn log_line(&mut self, line: &[u8], origin: Origin, time: SystemTime) {
        self.write_line(line);
        if self.subscribers.wants_lines() {
            let text = String::from_utf8_lossy(line);
            let json = if self.json { json_object(line) } else { None };
            self.subscribers.push(Item::Line(LineRecord {
                time,
                origin,
                text: text.into(),
                json,
            }));
        }
    }

    pub(super) fn write_line(&mut self, line: &[u8]) {
        let _ = self.out.write_all(line);
        let _ = self.out.write_all(b"\n");
        for (_, tail) in &mut self.tails {
            tail.extend_from_slice(line);
            tail.push(b'\n');
            // Keep the buffer bounded: only the last TAIL_BYTES are ever returned.
            if tail.len() > 4 * TAIL_BYTES {
                let cut = tail.len() - TAIL_BYTES;
                tail.drain(..cut);
            }
        }
    }
}
