//! The sanitizer against known attacks and generated adversarial markup,
//! judged by the checker in [`super::tests`].

use proptest::prelude::*;

use super::{
    safe_html,
    tests::{assert_script_free, script_free},
};

/// Known ways to sneak a script past a sanitizer.
const ADVERSARIAL: &[&str] = &[
    "<ScRiPt>alert(1)</sCrIpT>",
    "<script src=//evil.example/x.js></script>",
    "<scr<script>ipt>alert(1)</script>",
    "<<script>script>alert(1)<</script>/script>",
    "<script>alert(1)",
    "<img src=x onerror=alert(1)",
    "<IMG SRC=x OnErRoR=alert(1)>",
    "<img src=x onerror\n=alert(1)>",
    "<img/src=x/onerror=alert(1)>",
    "<a href=\"jav&#x61;script:alert(1)\">x</a>",
    "<a href=\"jav&#97;script&colon;alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\" javascript:alert(1)\">x</a>",
    "<a href=\"JAVASCRIPT:alert(1)\">x</a>",
    "<a href=\"vbscript:msgbox(1)\">x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==\">x</a>",
    "<form action=\"javascript:alert(1)\"><button formaction=\"javascript:alert(1)\">go</button></form>",
    "<svg><script>alert(1)</script></svg>",
    "<svg onload=alert(1)><circle r=1></circle></svg>",
    "<svg><a xlink:href=\"javascript:alert(1)\"><text>x</text></a></svg>",
    "<svg><animate attributeName=href to=javascript:alert(1)></animate></svg>",
    "<svg><style><img src=x onerror=alert(1)></style></svg>",
    "<svg><foreignObject><iframe src=javascript:alert(1)></iframe></foreignObject></svg>",
    "<math><mtext><table><mglyph><style><img src=x onerror=alert(1)></style></mglyph></table></mtext></math>",
    "<math><mi><a href=javascript:alert(1)>x</a></mi></math>",
    "<math href=javascript:alert(1)>x</math>",
    "<!--<img src=x onerror=alert(1)>-->",
    "<!--><img src=x onerror=alert(1)>-->",
    "<!-- --!><img src=x onerror=alert(1)> -->",
    "<![CDATA[<script>alert(1)</script>]]>",
    "<svg><![CDATA[</svg><img src=x onerror=alert(1)>]]></svg>",
    "<noscript><p title=\"</noscript><img src=x onerror=alert(1)>\"></noscript>",
    "<template><script>alert(1)</script></template>",
    "<textarea></textarea><script>alert(1)</script>",
    "<title></title><script>alert(1)</script>",
    "<title><script>alert(1)</script></title>",
    "<xmp><script>alert(1)</script></xmp>",
    "<iframe src=\"https://evil.example\"></iframe><iframe srcdoc=\"<script>alert(1)</script>\">",
    "<object data=\"x.swf\"></object><embed src=\"x.swf\"><applet code=x></applet>",
    "<base href=\"https://evil.example/\">",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "<META HTTP-EQUIV=Refresh CONTENT=\"0; URL=https://evil.example\">",
    "<link rel=stylesheet href=\"javascript:alert(1)\"><link rel=import href=evil.html>",
    "<div style=\"background:url(javascript:alert(1))\">x</div>",
    "<div style=\"width: expression(alert(1))\">x</div>",
    "<body onload=alert(1) style=\"background:url('javascript:alert(1)')\">",
    "<html lang=\"en\" onmouseover=\"alert(1)\"><body background=\"javascript:alert(1)\">",
    "<img srcset=\"javascript:alert(1) 1x, x.png 2x\">",
    "<video poster=javascript:alert(1)><source src=\"data:text/html,x\"></video>",
    "<a href=\"&#106;&#97;&#118;&#97;&#115;&#99;&#114;&#105;&#112;&#116;&#58;alert(1)\">x</a>",
    "<a href=\"&#x6A&#x61&#x76&#x61&#x73&#x63&#x72&#x69&#x70&#x74&#x3A;alert(1)\">x</a>",
    "<details open ontoggle=alert(1)>",
    "<p title=\"&lt;script&gt;alert(1)&lt;/script&gt;\">x</p>",
    "<style>@import 'javascript:alert(1)';</style><style></style><script>alert(1)</script>",
];

#[test]
fn known_attacks_leave_nothing_that_runs() {
    for input in ADVERSARIAL {
        assert_script_free(input);
    }
}

/// Pieces of markup that, shuffled together, reach unclosed tags, mixed
/// case, encoded schemes, foreign content and comment or CDATA confusion.
const PIECES: &[&str] = &[
    "<script>",
    "</script>",
    "<ScRiPt ",
    "<script/x>",
    "alert(1)",
    "<svg>",
    "</svg>",
    "<math>",
    "</math>",
    "<mtext>",
    "<mglyph>",
    "<style>",
    "</style>",
    "<!--",
    "-->",
    "--!>",
    "<![CDATA[",
    "]]>",
    "<img src=x",
    " onerror=alert(1)",
    " ONLOAD=",
    " on\tclick=",
    "<a href=\"",
    "javascript:",
    "jav&#x61;script:",
    "jav&#97;script&colon;",
    "java\tscript:",
    "vbscript:",
    "data:text/html,",
    "data:image/png;base64,AA",
    "\"",
    "'",
    ">",
    "<",
    "/>",
    "<iframe",
    "<object",
    "<embed",
    "<base href=",
    "<meta http-equiv=refresh content=\"0;url=",
    "<title>",
    "</title>",
    "<noscript>",
    "</noscript>",
    "<template>",
    "<textarea>",
    "<xmp>",
    "<html lang=",
    "<body onload=",
    "<link rel=stylesheet href=",
    "<form action=",
    "<div style=\"",
    "expression(",
    "<p>",
    "</p>",
    "&lt;",
    "&",
    "#",
    "<foreignObject>",
    "<annotation-xml encoding=text/html>",
    "<table>",
    "<select>",
    "<option>",
    "<plaintext>",
    "<frameset>",
    "<!DOCTYPE html>",
    "\0",
];

fn markup() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        3 => prop::sample::select(PIECES).prop_map(str::to_owned),
        1 => "[a-zA-Z0-9 <>=\"'/&#;:()-]{0,8}",
    ];
    prop::collection::vec(piece, 0..40).prop_map(|pieces| pieces.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(testkit::proptest_cases(512)))]

    #[test]
    fn no_output_holds_a_script_or_handler(input in markup()) {
        let out = safe_html(&input);
        if let Err(problem) = script_free(&out) {
            prop_assert!(false, "{}\n input: {:?}\noutput: {}", problem, input, out);
        }
    }

    #[test]
    fn sanitizing_twice_changes_nothing_more(input in markup()) {
        let once = safe_html(&input);
        let twice = safe_html(&once);
        prop_assert!(script_free(&twice).is_ok());
        prop_assert_eq!(twice.matches("<body").count(), 1);
    }
}
