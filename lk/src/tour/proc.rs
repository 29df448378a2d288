//! The tour's `$ lk …` commands: this binary run as a child process on the step's data
//! directory (and always the embedded log, whatever `--log` or `LK_LOG_URI` say), its
//! command line and output printed.

use std::process::{Child, Command, Stdio};

use anyhow::Context as _;

use super::step::Ctx;

/// `lk --data <step dir> --log embedded ARGS`, with the environment that would change
/// its data directory or log removed.
pub fn command(ctx: &Ctx, args: &[&str]) -> Command {
    let mut c = Command::new(&ctx.exe);
    c.arg("--data")
        .arg(&ctx.dir)
        .args(["--log", "embedded"])
        .args(args)
        .env_remove("LK_DATA")
        .env_remove("LK_LOG_URI");
    // Diagnostics (tracing) only for errors, unless asked for: a command's own report of
    // what it did is what the tour shows.
    if std::env::var_os("LK_LOG").is_none() {
        c.env("LK_LOG", "error");
    }
    c
}

/// `ARGS` as a reader would type them after `lk` (quoted where the shell needs it).
pub fn shown(args: &[&str]) -> String {
    let quote = |a: &&str| {
        if !a.is_empty()
            && a.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@".contains(c))
        {
            (*a).to_owned()
        } else {
            format!("'{}'", a.replace('\'', r"'\''"))
        }
    };
    args.iter().map(quote).collect::<Vec<_>>().join(" ")
}

/// Run `cmd` (shown as `lk ARGS`) to its end; its stdout, or an error with its stderr.
fn output_of(mut cmd: Command, args: &[&str]) -> anyhow::Result<(String, String)> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("run lk {}", shown(args)))?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        anyhow::bail!(
            "`lk {}` failed ({}): {}",
            shown(args),
            out.status,
            stderr.trim()
        );
    }
    Ok((stdout, stderr))
}

/// Run `lk ARGS`, print `$ lk ARGS` and its output (every line of it, its notes on
/// stderr first), and return its stdout.
pub fn lk(ctx: &mut Ctx, args: &[&str]) -> anyhow::Result<String> {
    lk_head(ctx, args, usize::MAX)
}

/// [`lk`], printing at most `max` lines of the output (and how many more there were).
pub fn lk_head(ctx: &mut Ctx, args: &[&str], max: usize) -> anyhow::Result<String> {
    ctx.say(format!("$ lk {}", shown(args)));
    let (stdout, stderr) = output_of(command(ctx, args), args)?;
    let lines: Vec<&str> = stderr.lines().chain(stdout.lines()).collect();
    // Paths inside the step's directory, relative to it (the command's --data).
    let dir = format!("{}/", ctx.dir.display());
    for l in lines.iter().take(max) {
        ctx.say(format!("  {}", l.replace(&dir, "")));
    }
    if lines.len() > max {
        ctx.say(format!(
            "  … ({} more)",
            crate::text::count((lines.len() - max) as u64, "line")
        ));
    }
    Ok(stdout)
}

/// Run `lk ARGS` without printing anything; its stdout.
pub fn lk_quiet(ctx: &Ctx, args: &[&str]) -> anyhow::Result<String> {
    Ok(output_of(command(ctx, args), args)?.0)
}

/// Start `lk ARGS` with its stdout piped to us (its stderr discarded), printing `$ lk
/// ARGS &`.
pub fn spawn(ctx: &mut Ctx, args: &[&str]) -> anyhow::Result<Child> {
    ctx.say(format!("$ lk {} &", shown(args)));
    command(ctx, args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start lk {}", shown(args)))
}

/// Kill `child` with SIGKILL — no clean-up, no final checkpoint, as a crash or `kill -9`
/// would — and wait for it to be gone.
pub fn kill(ctx: &mut Ctx, child: &mut Child) -> anyhow::Result<()> {
    ctx.say(format!("$ kill -KILL {}", child.id()));
    child.kill().context("kill the child process")?;
    let status = child.wait().context("wait for the killed process")?;
    ctx.say(format!("  the process is gone ({status})"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arguments_are_quoted_only_when_needed() {
        assert_eq!(
            shown(&[
                "query",
                "--key",
                "a b",
                "--from-time",
                "2023-11-14T22:13:20Z"
            ]),
            "query --key 'a b' --from-time 2023-11-14T22:13:20Z"
        );
        assert_eq!(shown(&["x", "it's"]), r"x 'it'\''s'");
    }
}
