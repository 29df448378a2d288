//! The two architectures compared, by name.

/// The two architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Architecture {
    /// Batch layer + speed layer + serving merge (the `lambda` crate).
    Lambda,
    /// One stream job per workload, reprocessing by replay (the `kappa` crate).
    Kappa,
}

impl Architecture {
    /// Both, in report order.
    pub const BOTH: [Architecture; 2] = [Architecture::Lambda, Architecture::Kappa];

    /// Its name, as the report writes it.
    pub fn name(self) -> &'static str {
        match self {
            Architecture::Lambda => "Lambda",
            Architecture::Kappa => "Kappa",
        }
    }
}
