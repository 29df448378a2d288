//! How the tour prints: plain text for a terminal, or Markdown (`--markdown`), the form
//! of `docs/tour.md`. Lines are printed as they come, so a long step shows its progress.

use std::path::Path;

/// Width explanations are wrapped to.
const WIDTH: usize = 88;

/// The tour's output.
pub struct Out {
    markdown: bool,
}

/// `text`'s paragraphs (separated by blank lines) wrapped to `width` columns, a blank
/// line between paragraphs.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    for (i, para) in text.split("\n\n").enumerate() {
        if i > 0 {
            lines.push(String::new());
        }
        let mut line = String::new();
        for word in para.split_whitespace() {
            if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
                lines.push(std::mem::take(&mut line));
            }
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
        }
        if !line.is_empty() {
            lines.push(line);
        }
    }
    lines
}

/// How many logical cores this machine offers.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

impl Out {
    /// Plain text, or Markdown with `markdown`.
    pub fn new(markdown: bool) -> Out {
        Out { markdown }
    }

    /// What the tour is about to do, and where.
    pub fn preamble(&self, root: &Path, removed: bool, quick: bool, steps: usize) {
        let build = if cfg!(debug_assertions) {
            "a debug build"
        } else {
            "a release build"
        };
        let load = std::fs::read_to_string("/proc/loadavg")
            .ok()
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(", "))
            .map_or(String::new(), |l| {
                format!(", load average {l} at the start")
            });
        let machine = format!(
            "Machine: {} logical cores{load}; {build}{}.",
            cores(),
            if quick { ", --quick sizes" } else { "" }
        );
        let commands = "Lines starting with `$ lk` are commands the tour runs (with --data set \
            to the step's own directory); the lines under them are their output.";
        if self.markdown {
            println!("# A tour of message queues and stream processing\n");
            for l in wrap(INTRO, 90) {
                println!("{l}");
            }
            println!();
            for l in wrap(&format!("{machine} {commands}"), 90) {
                println!("{l}");
            }
            println!();
            return;
        }
        println!(
            "lk tour: {steps} steps, in {}{}",
            root.display(),
            if removed { " (removed at the end)" } else { "" }
        );
        for l in wrap(&format!("{machine} {commands}"), WIDTH) {
            println!("{l}");
        }
        println!();
    }

    /// The start of step `n` of `total`: its title and explanation (`about`).
    pub fn begin(&self, n: usize, total: usize, title: &str, about: &str) {
        if self.markdown {
            println!("## {n}. {title}\n");
            println!("`lk tour --step {n}`\n");
            for l in wrap(about, 90) {
                println!("{l}");
            }
            println!("\n```text");
            return;
        }
        let title = format!("Step {n} of {total}: {title}");
        println!("{title}");
        println!("{}", "=".repeat(title.chars().count()));
        for l in wrap(about, WIDTH) {
            println!("{l}");
        }
        println!();
    }

    /// One line of a step's output.
    pub fn line(&self, line: &str) {
        if self.markdown {
            println!("{line}");
        } else {
            println!("  {line}");
        }
    }

    /// The end of a step that took `secs`.
    pub fn end(&self, secs: f64) {
        let took = if secs < 0.01 {
            "under 0.01 s".to_owned()
        } else {
            compare::format::seconds(secs)
        };
        if self.markdown {
            println!("```\n\n*This step took {took}.*\n");
        } else {
            println!("  (step took {took})\n");
        }
    }

    /// The end of the tour: `steps` steps in `secs`.
    pub fn closing(&self, secs: f64, steps: usize, removed: bool, root: &Path) {
        let done = format!(
            "The tour ran {} in {}.",
            crate::text::count(steps as u64, "step"),
            compare::format::seconds(secs)
        );
        if self.markdown {
            println!("{done}");
            return;
        }
        println!("{done}");
        if !removed {
            println!(
                "Its data is in {}: look around with `lk --data {}/NN-STEP topic list`.",
                root.display(),
                root.display()
            );
        }
    }
}

/// The opening of docs/tour.md.
const INTRO: &str = "This walk through message queues and stream processing runs on the \
    project itself: each step performs real operations on real data with the embedded \
    log and the two pipelines, and prints what it measured. It goes from the log \
    (topics, partitions, offsets) through consumer groups, keys and ordering, scaling \
    and fault tolerance, to what stream processing requires, Samza's model, Lambda \
    against Kappa, and LinkedIn's page-view case. Run it yourself with `lk tour` (a \
    few minutes in a release build; `lk tour --list` lists the steps, `lk tour --step \
    N` runs one). This page is the output of `lk tour --markdown`; the figures below \
    are one run's, and yours will differ with your machine.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps_words_and_keeps_paragraphs() {
        let lines = wrap("aaa bbb ccc\n\nddd", 7);
        assert_eq!(lines, ["aaa bbb", "ccc", "", "ddd"]);
    }
}
