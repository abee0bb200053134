//! Telling chatter from a description of a site, so that "hi" gets a few
//! words on how to ask for a site instead of a site called "hi".
//!
//! A message is chatter when
//! - every word in it is a greeting, a thanks or an acknowledgement
//!   ("hi", "hey there", "good morning", "thank you!", "thx", "ok", "привет",
//!   "谢谢"), or it has no word at all (emoji, punctuation: "👍", "🙂🙂",
//!   "..."); or
//! - it is too short to describe a site: fewer than 3 words and fewer than
//!   15 characters ("bakery" is chatter, "A bakery site" is not). Chinese,
//!   Japanese and Korean characters count three each, as one of them
//!   carries about what three Latin letters do ("面包店网站", "bakery
//!   website", is not chatter). A reply to one of the bot's messages is
//!   never too short: "bigger logo" asks for a change.
//!
//! A word is a run of text between spaces with its leading and trailing
//! punctuation and emoji removed, compared in lower case; all of this is
//! Unicode-aware, not ASCII. `/new <description>` skips these rules.

/// Words that alone ask for no site, in lower case.
#[rustfmt::skip] // A word list, not code: kept in groups on few lines.
const PLEASANTRIES: &[&str] = &[
    // Greetings.
    "hi", "hii", "hello", "hey", "heya", "hiya", "howdy", "yo", "sup", "greetings", "good",
    "morning", "afternoon", "evening", "there", "bot", "pagesmith", "how", "are", "what's",
    "whats", "up",
    // Thanks and acknowledgements.
    "thanks", "thank", "thx", "thnx", "ty", "tysm", "cheers", "you", "u", "very", "much",
    "so", "a", "lot", "ok", "okay", "k", "cool", "nice", "great", "awesome", "perfect", "yes",
    "no", "please", "help",
    // The same in a few other languages.
    "hola", "gracias", "bonjour", "salut", "merci", "hallo", "danke", "ciao", "grazie", "olá",
    "obrigado", "obrigada", "привет", "здравствуйте", "спасибо", "добрый", "доброе", "день",
    "утро", "вечер", "你好", "您好", "谢谢", "多谢", "こんにちは", "ありがとう",
    "ありがとうございます", "안녕하세요", "감사합니다", "merhaba", "namaste",
];

/// Fewer words than this, and fewer characters than [`MIN_CHARS`], is too
/// short to describe a site.
const MIN_WORDS: usize = 3;
const MIN_CHARS: usize = 15;

/// Whether `text` is chatter rather than a description of a site (see the
/// module's rules). `replies_to_bot`: the message answers one of the bot's
/// messages, so a short text is a change to that site.
pub fn is_chatter(text: &str, replies_to_bot: bool) -> bool {
    let words: Vec<String> = text
        .split_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric()))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let pleasantries = words.iter().all(|w| PLEASANTRIES.contains(&w.as_str()));
    pleasantries || (!replies_to_bot && too_short(&words))
}

fn too_short(words: &[String]) -> bool {
    if words.len() >= MIN_WORDS {
        return false;
    }
    let spaces = words.len().saturating_sub(1);
    let chars: usize = words
        .iter()
        .flat_map(|w| w.chars())
        .map(|c| if is_wide(c) { 3 } else { 1 })
        .sum();
    chars + spaces < MIN_CHARS
}

/// Han, kana and Hangul: scripts whose one character is about a syllable
/// or a word, not a letter.
fn is_wide(c: char) -> bool {
    matches!(c,
        '\u{2E80}'..='\u{2FDF}'     // CJK radicals
        | '\u{3040}'..='\u{31FF}'   // Hiragana, Katakana, Bopomofo, Hangul Jamo
        | '\u{3400}'..='\u{4DBF}'   // CJK extension A
        | '\u{4E00}'..='\u{9FFF}'   // CJK unified ideographs
        | '\u{AC00}'..='\u{D7A3}'   // Hangul syllables
        | '\u{F900}'..='\u{FAFF}'   // CJK compatibility ideographs
        | '\u{20000}'..='\u{3FFFD}' // CJK extensions B and later
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greetings_thanks_emoji_and_scraps_are_chatter() {
        for text in [
            "hi",
            "Hi!",
            "hey there",
            "Hello, bot 👋",
            "good morning",
            "Good evening!!",
            "thanks",
            "Thank you!",
            "thank you so much",
            "thx",
            "👍",
            "🙂🙂",
            "...",
            "?",
            "ok",
            "bakery",
            "my site",
            "2024",
            "Привет!",
            "спасибо",
            "你好",
            "谢谢！",
            "我的网站",
            "こんにちは",
            "안녕하세요",
            "\u{FFFD}",
        ] {
            assert!(is_chatter(text, false), "{text:?} is chatter");
        }
    }

    #[test]
    fn descriptions_are_not_chatter_however_short_or_foreign() {
        for text in [
            "A bakery site",
            "Hi! A site for my bakery, please",
            "Good morning! I need a landing page for my café",
            "portfolio photographer",
            "Сайт для пекарни",
            "面包店网站",
            "パン屋のサイト",
            "빵집 웹사이트",
            "Página para mi panadería",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(!is_chatter(text, false), "{text:?} describes a site");
        }
    }

    #[test]
    fn a_short_reply_to_the_bot_is_a_change_but_thanks_is_still_chatter() {
        for change in ["bigger logo", "blue", "Больше", "更大"] {
            assert!(!is_chatter(change, true), "{change:?} asks for a change");
            assert!(is_chatter(change, false), "{change:?} alone is too short");
        }
        for thanks in ["Thanks! 🙏", "👍", "ok", "great, thank you"] {
            assert!(is_chatter(thanks, true), "{thanks:?} is no change");
        }
    }

    #[test]
    fn the_length_rule_is_at_its_documented_edges() {
        // 2 words, 14 characters: short; 15: not; 3 words: never.
        assert!(is_chatter("bakery website", false));
        assert!(!is_chatter("bakery websites", false));
        assert!(!is_chatter("my bakery page", false));
        // 4 wide characters are 12, 5 are 15.
        assert!(is_chatter("我的网站", false));
        assert!(!is_chatter("我的新网站", false));
    }
}
