//! The rules that keep `lk`'s flags one vocabulary across its commands, checked over the
//! whole clap definition (every subcommand, global flags included):
//!
//! - a flag name means one thing: wherever it appears it takes a value or does not, has
//!   the same short form, value name and visible aliases, and the same default — unless
//!   the help of one of the two says why not by naming the other command (`` `lk kappa
//!   run`: 1s ``);
//! - a retired spelling stays retired: a hidden alias (of a flag, or of a value) is never
//!   the visible name of another flag, nor a visible value.

use std::collections::BTreeMap;

use clap::Command;

/// One flag of one command, as far as the rules look at it.
#[derive(Debug, Clone)]
struct Flag {
    /// `lk kappa run`.
    command: String,
    long: String,
    short: Option<char>,
    takes_value: bool,
    value_names: Vec<String>,
    default: Vec<String>,
    help: String,
    visible_aliases: Vec<String>,
    hidden_aliases: Vec<String>,
    visible_values: Vec<String>,
    hidden_values: Vec<String>,
}

/// Every long flag of `cmd` and its subcommands (clap's own `--help`/`--version` left
/// out); `cmd` is built first, so that global flags show in every subcommand.
fn flags(cmd: &mut Command) -> Vec<Flag> {
    cmd.build();
    let mut out = Vec::new();
    walk(cmd, "lk", &mut out);
    out
}

fn walk(cmd: &Command, path: &str, out: &mut Vec<Flag>) {
    for a in cmd.get_arguments() {
        let Some(long) = a.get_long() else { continue };
        if matches!(long, "help" | "version") {
            continue;
        }
        let visible_aliases: Vec<String> = a
            .get_visible_aliases()
            .unwrap_or_default()
            .into_iter()
            .map(str::to_owned)
            .collect();
        let hidden_aliases = a
            .get_all_aliases()
            .unwrap_or_default()
            .into_iter()
            .filter(|n| !visible_aliases.iter().any(|v| v == n))
            .map(str::to_owned)
            .collect();
        let (mut visible_values, mut hidden_values) = (Vec::new(), Vec::new());
        for v in a.get_possible_values() {
            if v.is_hide_set() {
                hidden_values.extend(v.get_name_and_aliases().map(str::to_owned));
                continue;
            }
            visible_values.push(v.get_name().to_owned());
            hidden_values.extend(v.get_name_and_aliases().skip(1).map(str::to_owned));
        }
        let help = [a.get_help(), a.get_long_help()]
            .into_iter()
            .flatten()
            .map(|h| h.to_string())
            .collect::<Vec<_>>()
            .join(" ");
        out.push(Flag {
            command: path.to_owned(),
            long: long.to_owned(),
            short: a.get_short(),
            takes_value: a.get_action().takes_values(),
            value_names: a
                .get_value_names()
                .unwrap_or_default()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            default: a
                .get_default_values()
                .iter()
                .map(|d| d.to_string_lossy().into_owned())
                .collect(),
            help,
            visible_aliases,
            hidden_aliases,
            visible_values,
            hidden_values,
        });
    }
    for sub in cmd.get_subcommands() {
        walk(sub, &format!("{path} {}", sub.get_name()), out);
    }
}

/// Whether `f`'s help explains a difference from `other` by naming its command: `` `lk
/// kappa `` for a flag of `lk kappa run`.
fn explains(f: &Flag, other: &Flag) -> bool {
    let top: Vec<&str> = other.command.split(' ').take(2).collect();
    f.help.contains(&format!("`{}", top.join(" ")))
}

/// What breaks the rules (see the module docs), one line each.
fn problems(flags: &[Flag]) -> Vec<String> {
    let mut out = Vec::new();
    let mut by_name: BTreeMap<&str, Vec<&Flag>> = BTreeMap::new();
    for f in flags {
        by_name.entry(&f.long).or_default().push(f);
    }
    for (name, fs) in &by_name {
        let first = fs[0];
        for f in &fs[1..] {
            let at = format!("--{name} of `{}` and of `{}`", first.command, f.command);
            if f.takes_value != first.takes_value {
                out.push(format!("{at}: one takes a value, the other does not"));
            }
            if f.short != first.short {
                out.push(format!(
                    "{at}: short forms {:?} and {:?}",
                    first.short, f.short
                ));
            }
            if f.takes_value && f.value_names != first.value_names {
                out.push(format!(
                    "{at}: value names {:?} and {:?}",
                    first.value_names, f.value_names
                ));
            }
            if f.visible_aliases != first.visible_aliases {
                out.push(format!(
                    "{at}: aliases {:?} and {:?}",
                    first.visible_aliases, f.visible_aliases
                ));
            }
        }
        // Defaults: every pair that has one.
        for (i, a) in fs.iter().enumerate() {
            for b in &fs[i + 1..] {
                if a.default.is_empty() || b.default.is_empty() || a.default == b.default {
                    continue;
                }
                if !explains(a, b) && !explains(b, a) {
                    out.push(format!(
                        "--{name}: default {:?} in `{}` but {:?} in `{}`, and neither help says \
                         why (name the other command in it)",
                        a.default, a.command, b.default, b.command
                    ));
                }
            }
        }
    }
    for f in flags {
        for alias in &f.hidden_aliases {
            for g in flags {
                if g.long == *alias || g.visible_aliases.contains(alias) {
                    out.push(format!(
                        "--{alias} is a retired spelling of --{} (`{}`) but a flag of `{}`",
                        f.long, f.command, g.command
                    ));
                }
            }
        }
        for value in &f.hidden_values {
            for g in flags {
                if g.visible_values.contains(value) {
                    out.push(format!(
                        "{value:?} is a retired value of --{} (`{}`) but a value of --{} of `{}`",
                        f.long, f.command, g.long, g.command
                    ));
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{Arg, ArgAction, builder::PossibleValue};

    #[test]
    fn every_flag_of_lk_follows_the_rules() {
        let flags = flags(&mut <crate::Cli as clap::CommandFactory>::command());
        assert!(flags.len() > 100, "{} flags", flags.len());
        let problems = problems(&flags);
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    fn cmd(subs: Vec<Command>) -> Vec<String> {
        problems(&flags(&mut Command::new("lk").subcommands(subs)))
    }

    #[test]
    fn a_flag_with_two_meanings_is_found() {
        let every = |d: &'static str, help: &'static str| {
            Arg::new("x").long("every").default_value(d).help(help)
        };
        let p = cmd(vec![
            Command::new("a").arg(every("1m", "")),
            Command::new("b").arg(every("10s", "")),
        ]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("default"), "{p:?}");
        // Explained by naming the other command: allowed.
        let p = cmd(vec![
            Command::new("a").arg(every("1m", "")),
            Command::new("b").arg(every("10s", "shorter than `lk a`'s")),
        ]);
        assert!(p.is_empty(), "{p:?}");
        let p = cmd(vec![
            Command::new("a").arg(Arg::new("x").long("keep").action(ArgAction::SetTrue)),
            Command::new("b").arg(Arg::new("x").long("keep").short('k')),
        ]);
        assert_eq!(p.len(), 2, "{p:?}");
    }

    #[test]
    fn a_retired_spelling_that_comes_back_is_found() {
        let p = cmd(vec![
            Command::new("a").arg(Arg::new("x").long("batch-every").alias("every")),
            Command::new("b").arg(Arg::new("x").long("every")),
        ]);
        assert_eq!(p.len(), 1, "{p:?}");
        let format = |values: Vec<PossibleValue>| {
            Arg::new("f")
                .long("format")
                .value_parser(clap::builder::PossibleValuesParser::new(values))
        };
        let p = cmd(vec![
            Command::new("a").arg(format(vec![PossibleValue::new("text").alias("table")])),
            Command::new("b").arg(format(vec![PossibleValue::new("table")])),
        ]);
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("retired value"), "{p:?}");
    }
}
