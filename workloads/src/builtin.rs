//! The built-in workloads over the generated datasets.
//!
//! Each is a windowed aggregation with a fixed layout of partials; the batch layer, the
//! speed layer and Kappa each implement it in their own idiom, and the oracle computes
//! it independently. What they share is this definition: the window, the key and value
//! columns, the partials per cell, and the final step (`finish`) that turns merged
//! partials into rows — which is where top-K and arg-max happen, after merging, so they
//! are exact.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::window::WindowSpec;

/// Number of pages `top-pages-hourly` keeps per hour.
pub const TOP_PAGES: usize = 10;

/// A built-in workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum BuiltIn {
    /// Views per page per minute (pageviews).
    PageviewsPerMinute,
    /// Distinct viewers per profile per hour — "who viewed my profile" (pageviews,
    /// `page_type = 'profile'`).
    ProfileViewersHourly,
    /// The 10 most viewed pages of each hour (pageviews); ties by smaller page id.
    TopPagesHourly,
    /// YSB: `view` events per campaign per 10 s, through the static ad → campaign table.
    YsbCampaign10s,
    /// NEXMark Q5 "hot items": the auctions with the most bids in each 10 s window
    /// sliding by 2 s (every auction tied for the most is listed).
    NexmarkQ5,
    /// NEXMark Q7: the highest bid of each 10 s window (ties: smallest auction, then
    /// bidder).
    NexmarkQ7,
}

impl BuiltIn {
    /// Every built-in.
    pub const ALL: [BuiltIn; 6] = [
        BuiltIn::PageviewsPerMinute,
        BuiltIn::ProfileViewersHourly,
        BuiltIn::TopPagesHourly,
        BuiltIn::YsbCampaign10s,
        BuiltIn::NexmarkQ5,
        BuiltIn::NexmarkQ7,
    ];

    /// The built-in's name (`--workload NAME`).
    pub fn name(self) -> &'static str {
        match self {
            BuiltIn::PageviewsPerMinute => "pageviews-per-minute",
            BuiltIn::ProfileViewersHourly => "profile-viewers-hourly",
            BuiltIn::TopPagesHourly => "top-pages-hourly",
            BuiltIn::YsbCampaign10s => "ysb-campaign-10s",
            BuiltIn::NexmarkQ5 => "nexmark-q5",
            BuiltIn::NexmarkQ7 => "nexmark-q7",
        }
    }

    /// The dataset it reads, which is also its default topic name.
    pub fn dataset(self) -> &'static str {
        match self {
            BuiltIn::PageviewsPerMinute
            | BuiltIn::ProfileViewersHourly
            | BuiltIn::TopPagesHourly => "pageviews",
            BuiltIn::YsbCampaign10s => "ysb",
            BuiltIn::NexmarkQ5 | BuiltIn::NexmarkQ7 => "nexmark",
        }
    }

    /// How it groups events in time.
    pub fn window(self) -> WindowSpec {
        const MINUTE: i64 = 60_000;
        const HOUR: i64 = 3_600_000;
        match self {
            BuiltIn::PageviewsPerMinute => WindowSpec::Tumbling { size_ms: MINUTE },
            BuiltIn::ProfileViewersHourly | BuiltIn::TopPagesHourly => {
                WindowSpec::Tumbling { size_ms: HOUR }
            }
            BuiltIn::YsbCampaign10s | BuiltIn::NexmarkQ7 => {
                WindowSpec::Tumbling { size_ms: 10_000 }
            }
            BuiltIn::NexmarkQ5 => WindowSpec::Hopping {
                size_ms: 10_000,
                slide_ms: 2_000,
            },
        }
    }

    /// Names of the group-by columns of its rows.
    pub fn key_columns(self) -> Vec<String> {
        let v: &[&str] = match self {
            BuiltIn::PageviewsPerMinute | BuiltIn::TopPagesHourly => &["page_id"],
            BuiltIn::ProfileViewersHourly => &["profile_id"],
            BuiltIn::YsbCampaign10s => &["campaign_id"],
            BuiltIn::NexmarkQ5 => &["auction"],
            BuiltIn::NexmarkQ7 => &[],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    /// Names of the value columns of its rows.
    pub fn value_columns(self) -> Vec<String> {
        let v: &[&str] = match self {
            BuiltIn::PageviewsPerMinute => &["views"],
            BuiltIn::ProfileViewersHourly => &["distinct_viewers"],
            BuiltIn::TopPagesHourly => &["views", "rank"],
            BuiltIn::YsbCampaign10s => &["views"],
            BuiltIn::NexmarkQ5 => &["bids"],
            BuiltIn::NexmarkQ7 => &["price", "auction", "bidder"],
        };
        v.iter().map(|s| s.to_string()).collect()
    }

    /// The partials of one cell, in order. Cells of `top-pages-hourly` and `nexmark-q5`
    /// hold a count per page or auction (the ranking happens in `finish`); the one cell
    /// per window of `nexmark-q7` (empty key) holds a `MaxBy(price, [auction, bidder])`.
    pub fn empty_partials(self) -> Vec<crate::partial::Partial> {
        use crate::partial::Partial;
        match self {
            BuiltIn::ProfileViewersHourly => vec![Partial::Distinct(Default::default())],
            BuiltIn::NexmarkQ7 => vec![Partial::MaxBy(None)],
            _ => vec![Partial::Count(0)],
        }
    }
}

impl fmt::Display for BuiltIn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for BuiltIn {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        BuiltIn::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| format!("no built-in workload {s:?}"))
    }
}
