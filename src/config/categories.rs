//! Apple Podcasts' category list, the only values `itunes:category` may take.
//!
//! Source: Apple Podcasts for Creators, "Apple Podcasts categories" (the 2019 list, still
//! current). Names must match to the letter, `&` included.

/// Top-level categories with their subcategories.
pub const APPLE_CATEGORIES: &[(&str, &[&str])] = &[
    (
        "Arts",
        &[
            "Books",
            "Design",
            "Fashion & Beauty",
            "Food",
            "Performing Arts",
            "Visual Arts",
        ],
    ),
    (
        "Business",
        &[
            "Careers",
            "Entrepreneurship",
            "Investing",
            "Management",
            "Marketing",
            "Non-Profit",
        ],
    ),
    ("Comedy", &["Comedy Interviews", "Improv", "Stand-Up"]),
    (
        "Education",
        &["Courses", "How To", "Language Learning", "Self-Improvement"],
    ),
    ("Fiction", &["Comedy Fiction", "Drama", "Science Fiction"]),
    ("Government", &[]),
    ("History", &[]),
    (
        "Health & Fitness",
        &[
            "Alternative Health",
            "Fitness",
            "Medicine",
            "Mental Health",
            "Nutrition",
            "Sexuality",
        ],
    ),
    (
        "Kids & Family",
        &[
            "Education for Kids",
            "Parenting",
            "Pets & Animals",
            "Stories for Kids",
        ],
    ),
    (
        "Leisure",
        &[
            "Animation & Manga",
            "Automotive",
            "Aviation",
            "Crafts",
            "Games",
            "Hobbies",
            "Home & Garden",
            "Video Games",
        ],
    ),
    (
        "Music",
        &["Music Commentary", "Music History", "Music Interviews"],
    ),
    (
        "News",
        &[
            "Business News",
            "Daily News",
            "Entertainment News",
            "News Commentary",
            "Politics",
            "Sports News",
            "Tech News",
        ],
    ),
    (
        "Religion & Spirituality",
        &[
            "Buddhism",
            "Christianity",
            "Hinduism",
            "Islam",
            "Judaism",
            "Religion",
            "Spirituality",
        ],
    ),
    (
        "Science",
        &[
            "Astronomy",
            "Chemistry",
            "Earth Sciences",
            "Life Sciences",
            "Mathematics",
            "Natural Sciences",
            "Nature",
            "Physics",
            "Social Sciences",
        ],
    ),
    (
        "Society & Culture",
        &[
            "Documentary",
            "Personal Journals",
            "Philosophy",
            "Places & Travel",
            "Relationships",
        ],
    ),
    (
        "Sports",
        &[
            "Baseball",
            "Basketball",
            "Cricket",
            "Fantasy Sports",
            "Football",
            "Golf",
            "Hockey",
            "Rugby",
            "Running",
            "Soccer",
            "Swimming",
            "Tennis",
            "Volleyball",
            "Wilderness",
            "Wrestling",
        ],
    ),
    ("Technology", &[]),
    ("True Crime", &[]),
    (
        "TV & Film",
        &[
            "After Shows",
            "Film History",
            "Film Interviews",
            "Film Reviews",
            "TV Reviews",
        ],
    ),
];

/// Checks `"Top"` or `"Top > Sub"` against Apple's list; returns the canonical pair or a hint.
pub fn lookup(spec: &str) -> Result<(&'static str, Option<&'static str>), String> {
    let mut parts = spec.splitn(2, '>').map(str::trim);
    let top = parts.next().unwrap_or_default();
    let sub = parts.next();
    let Some((name, subs)) = APPLE_CATEGORIES.iter().find(|(n, _)| *n == top) else {
        let names: Vec<&str> = APPLE_CATEGORIES.iter().map(|(n, _)| *n).collect();
        return Err(format!(
            "unknown Apple category {top:?}; expected one of: {}",
            names.join(", ")
        ));
    };
    match sub {
        None => Ok((name, None)),
        Some(sub) => match subs.iter().find(|s| **s == sub) {
            Some(s) => Ok((name, Some(s))),
            None if subs.is_empty() => Err(format!("{name:?} has no subcategories")),
            None => Err(format!(
                "unknown subcategory {sub:?} of {name:?}; expected one of: {}",
                subs.join(", ")
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_and_unknown_categories() {
        assert_eq!(lookup("Technology"), Ok(("Technology", None)));
        assert_eq!(lookup("Arts > Books"), Ok(("Arts", Some("Books"))));
        assert!(lookup("Tech")
            .unwrap_err()
            .contains("unknown Apple category"));
        assert!(lookup("Arts > Cooking")
            .unwrap_err()
            .contains("unknown subcategory"));
        assert!(lookup("History > Wars")
            .unwrap_err()
            .contains("no subcategories"));
    }
}
