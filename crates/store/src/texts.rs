//! The text fields of what the store and stress summaries hold, for the passes that must
//! see all of it (redaction, terminal escaping): see `faultline_model::texts`.

use faultline_model::texts::{each, free, free_opt, ident, ident_opt, Text, Texts};

use crate::stress::{StressGroup, StressSummary};
use crate::{GroupDetail, GroupSummary, Occurrence, StoredRun};

impl Texts for GroupSummary {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let GroupSummary {
            id,
            signature,
            signal,
            kind,
            culprit_function,
            culprit_module,
            culprit_file,
            culprit_line: _,
            message,
            count: _,
            first_seen_ms: _,
            last_seen_ms: _,
            tests,
        } = self;
        ident(id, f);
        ident(signature, f);
        ident(signal, f);
        ident(kind, f);
        free_opt(culprit_function, f);
        free_opt(culprit_module, f);
        free_opt(culprit_file, f);
        free_opt(message, f);
        tests.iter_mut().for_each(|test| free(test, f));
    }
}

impl Texts for Occurrence {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let Occurrence { run_id: _, at_ms: _, host, test, phase } = self;
        ident_opt(host, f);
        free_opt(test, f);
        ident(phase, f);
    }
}

impl Texts for StoredRun {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let StoredRun { id: _, recorded_at_ms: _, host, report } = self;
        ident_opt(host, f);
        report.visit_texts(f);
    }
}

impl Texts for GroupDetail {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let GroupDetail { summary, occurrences, runs_since_first_seen: _, latest } = self;
        summary.visit_texts(f);
        each(occurrences, f);
        latest.visit_texts(f);
    }
}

impl Texts for StressGroup {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        // The report path is faultline's own, shown with `display()`.
        let StressGroup { summary, runs: _, first_report: _ } = self;
        summary.visit_texts(f);
    }
}

impl Texts for StressSummary {
    fn visit_texts(&mut self, f: &mut dyn FnMut(Text<'_>)) {
        let StressSummary {
            command,
            runs_planned: _,
            runs_done: _,
            jobs: _,
            counts: _,
            groups,
            duration_ms: _,
            stopped_early,
            logs: _,
            rate: _,
            variants,
        } = self;
        f(Text::Argv(command));
        each(groups, f);
        ident_opt(stopped_early, f);
        // Names from the command line or the project's settings; group ids are hashes.
        for variant in variants {
            ident(&mut variant.name, f);
        }
    }
}
