//! The rejects file of a CSV import in `skip` mode: each bad row with its line and
//! reason.

use std::fs::File;
use std::io::BufWriter;
use std::path::PathBuf;

use crate::csv_input::CsvRecord;
use crate::error::{IoContext, Result};
use crate::import_options::{ImportSummary, RejectedRow};

/// The rejects file of an import (`skip`), created at the first bad row.
pub(crate) struct Rejects {
    /// Where the rows are written.
    path: PathBuf,
    /// Where the file is once the import is published (the summary's `rejects_file`).
    published: PathBuf,
    writer: Option<csv::Writer<BufWriter<File>>>,
}

impl Rejects {
    pub(crate) fn new(path: PathBuf, published: PathBuf) -> Self {
        Rejects {
            path,
            published,
            writer: None,
        }
    }

    /// Write a bad row (its line, the reason, its fields: none for a row longer than the
    /// line limit) and count it in `summary`.
    pub(crate) fn push(
        &mut self,
        line: u64,
        reason: String,
        rec: CsvRecord<'_>,
        summary: &mut ImportSummary,
    ) -> Result<()> {
        summary.rejected += 1;
        let path = &self.path;
        let w = match &mut self.writer {
            Some(w) => w,
            None => {
                if let Some(dir) = path.parent() {
                    std::fs::create_dir_all(dir).ctx(|| format!("create {}", dir.display()))?;
                }
                let f = File::create(path).ctx(|| format!("create {}", path.display()))?;
                let mut w = csv::WriterBuilder::new()
                    .flexible(true)
                    .from_writer(BufWriter::new(f));
                w.write_record(["line", "reason", "fields"])
                    .ctx(|| format!("write {}", path.display()))?;
                summary.rejects_file = Some(self.published.clone());
                self.writer.insert(w)
            }
        };
        let line_text = line.to_string();
        let head: [&[u8]; 2] = [line_text.as_bytes(), reason.as_bytes()];
        w.write_record(head.into_iter().chain(rec.iter()))
            .ctx(|| format!("write {}", path.display()))?;
        if summary.first_rejects.len() < 20 {
            summary.first_rejects.push(RejectedRow { line, reason });
        }
        Ok(())
    }

    /// Flush the file, if a row was rejected.
    pub(crate) fn finish(self) -> Result<()> {
        if let Some(mut w) = self.writer {
            w.flush().ctx(|| format!("write {}", self.path.display()))?;
        }
        Ok(())
    }
}
