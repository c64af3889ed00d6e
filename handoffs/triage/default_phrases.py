# ruff: noqa: E501 — a pattern reads (and is copied into admin) best on one line.
"""The starting phrase lists, as pattern families (syntax: handoffs/triage/patterns.py —
`a|b` one of these words, `*` up to three words in between; every word also matches its other
forms: "text" = "texts" = "texting").

Written from how people opt out, complain, get lost and ask account questions in general, not
from the sentences of the evaluation sets. A family is one line ops can read, switch off or
copy. Single words stay one per line, so a reason quotes "useless", not a list.
"""

from __future__ import annotations

from handoffs.triage.text import wordset

# Ways of reaching someone, as nouns and verbs ("text", "message", "email", "call", …).
_REACH = "text|message|email|mail|call|ring|phone|contact|spam|sms|whatsapp|notif|notification"
_COMMS = f"{_REACH}|communication|marketing|newsletter"

# ---- opt-out -----------------------------------------------------------------------------------
# Carrier keywords: an SMS that is just one of these (courtesy words aside) is an opt-out.
OPT_OUT_WHOLE = [
    "stop",
    "stop all",
    "unsubscribe",
    "cancel",
    "end",
    "quit",
    "opt out",
    "stop it",
    "remove",
    "remove me",
    "no more",
    "enough",
]
OPT_OUT = [
    # stop / quit / cease + contacting ("stop texting me", "please stop all these emails")
    f"stop|quit|cease|halt {_REACH}|send|sending|bother|pester|harass|hassle|chase",
    f"stop|quit|cease * {_COMMS}",
    f"stop|quit * get|getting|receive|receiving * {_COMMS}|these|them",
    # "no more texts", "no further contact", "I don't want any more of these emails"
    f"no|any more|further|longer * {_COMMS}",
    f"no longer * want|wish|need * {_REACH}|contacted|receive|hear",
    f"dont|never want|wish * receive|get|getting * these|them|this|anymore|any|{_COMMS}",
    f"rather|prefer not * {_REACH}|contacted|receive|hear",
    # "don't text me", "do not contact this number again", "never call me again"
    f"dont {_REACH}|bother|send * me|us|again|anymore|number|here|address",
    f"never {_REACH} * me|us * again",
    # removal from lists and records
    "unsubscribe",
    "opt * out",
    "remove me|us",
    "take|get me|us * off",
    "remove|delete|erase|wipe|scrub my|our * number|details|data|email|address|information|contact",
    "remove|delete|take|drop * from|off * list|system|database|records|contacts",
    "off * list|mailing|database",
    "mailing|distribution|marketing|contact list",
    # other ways of saying it
    "leave me|us alone",
    "lose my|our number",
    "block|blocking|blocked this|your number|sender",
    "blocking|block you",
    f"enough * {_REACH}",
    f"{_REACH}|write me|us * instead",
    f"instead of {_REACH}|texting|calling|emailing",
]

# ---- anger and complaint -----------------------------------------------------------------------
ANGRY_WORDS = wordset(
    """
    ridiculous unacceptable outrageous disgraceful disgusting appalling pathetic useless
    shambles shambolic disgrace atrocious abysmal dreadful incompetent clueless hopeless
    rubbish garbage trash crap crappy shit shite shoddy lousy farce farcical joke laughable
    nightmare unprofessional inexcusable absurd scandalous terrible awful horrible horrendous
    shocking worst unbelievable pointless worthless rude rudeness arrogant condescending
    patronising patronizing dismissive unhelpful misleading misled missold
    angry annoyed irritated irritating fuming furious livid frustrated frustrating infuriating
    infuriated exasperated outraged appalled disgusted disappointed disappointing gutted upset
    unhappy dissatisfied unimpressed seething raging
    bloody ffs wtf omfg bs bullshit fuck fucking fucked pissed dammit effing
    complaint complain complained complaining escalate escalation escalating
    chargeback scam scammed scammers fraud fraudulent ripoff stealing lied lying liar liars
    overcharged overcharging overdue unanswered unresolved "ignored" "ignoring" trustpilot
    ombudsman elsewhere competitor competitors
    broken broke crashed crashing crashes glitch buggy faulty defective damaged "missing"
    😡 🤬 😤 💢 👿 😠 🙄 😒 🙃 🤦 👎 🖕 😑
    """
)
ANGRY = [
    *sorted(ANGRY_WORDS),
    # feelings in more than one word
    "fed up",
    "sick of",
    "sick and tired",
    "tired of",
    "had enough",
    "wits end",
    "lost|losing|running out of patience",
    "patience * wearing|running|thin|gone",
    "not|never|hardly happy|impressed|acceptable|satisfied|pleased|fair|professional",
    "not good enough",
    "let down",
    "a|what|complete|total|utter|absolute mess|joke|disaster|farce",
    "complete|total|utter|absolute waste",
    "waste of * time|money|effort|day|afternoon|morning|evening|week|space",
    "rip off",
    "ripped off",
    "daylight robbery",
    # asking again and again
    "second|third|fourth|fifth|sixth|2nd|3rd|4th|5th|6th|nth|umpteenth|hundredth time",
    "second|third|fourth|fifth|2nd|3rd|4th|5th|umpteenth * email|message|call|request|attempt|reminder|chase",
    "asked|called|chased|emailed|explained|rang|told|phoned|messaged|written|wrote|contacted * times",
    "several|multiple|countless|numerous|many times",
    "times now|already",
    "how many times",
    "again and again",
    "over and over",
    "yet again",
    "keep|keeps|kept|keeping * asking|chasing|telling|explaining|repeating|charging|failing|crashing|ignoring|breaking",
    "already * asked|told|explained|sent|answered|given|said",
    # waiting and silence
    "still waiting|chasing|nothing|broken|wrong|missing|no|not|havent|hasnt|cant|dont|isnt|nobody|noone|unresolved|unanswered",
    "been waiting|chasing|ignored|trying",
    "been * kept waiting",
    "wait|waiting * ages|forever",
    "been a|two|three|four|five|six|several|2|3|4|5|6|7|8|9|10 day|week|month|fortnight",
    "been a few|couple day|week|month",
    "been|taken ages|forever|days|weeks|months",
    "over|more than a|two|three|2|3|4 week|month|fortnight",
    "for * day|week|month * now",
    "days|weeks|months|hours late",
    "another|more delay",
    "delayed|late again",
    "on hold",
    "cut off",
    "hung up",
    "nobody|noone * replied|answered|responded|called|rang|get|got|came|turned|showed|cares|care|listens|helps|reads|bothered|fixed|contacted|returned",
    "never * replied|answered|responded|called|rang|heard|arrived|came|turned|showed|delivered|happened|fixed|sorted|resolved|returned|refunded",
    "hasnt|havent|hadnt|didnt|wasnt|werent|isnt|still * arrived|delivered|turned|showed|fixed|sorted|resolved|refunded",
    "no|zero reply|response|answer|callback|word|help",
    "not a|one single * reply|response|answer|word",
    '"ignored"|"ignoring" me|us|my|our',
    "talking to a|brick wall",
    # wanting a person, a manager, action
    "speak|talk|chat|speaking|talking * to|with * manager|supervisor|boss|human|person|someone|somebody|director|real|actual|senior|owner",
    "real|actual|live|proper human|person|people|being",
    "another|stupid|useless|pointless|dumb|rubbish bot|robot|automated|automatic|machine",
    "not a bot|robot|machine",
    "sort it|this|yourselves|that|things * out",
    "fix it|this now",
    "is it too much to ask",
    "too much to ask",
    "how hard can it be",
    "gods|goodness|heavens|christs|petes sake",
    "crying out loud",
    "are you kidding|joking|serious",
    "must be kidding|joking",
    "having a laugh",
    "whats wrong with you|your",
    # threats and consequences
    "going * to * cancel|switch|leave|complain|report",
    "thinking|considering * cancelling|cancel|leaving|switching|moving",
    "be|im|am cancelling|leaving|switching",
    "cancel my account",
    "done with * you|this|your|it",
    "take|taking my|our business",
    "never again",
    "never * use|order|buy|recommend * again",
    "not|never|wouldnt|wont recommend",
    "report|reporting you|your|them",
    "warn * others|people|everyone",
    "bad|negative|terrible|poor|honest|1|one star review|rating",
    "trading standards",
    "small claims",
    "citizens advice",
    "legal action",
    "take * to court",
    "my solicitor|lawyer|attorney|bank",
    "dispute * payment|charge|transaction",
    # money taken wrongly
    "want|demand|expect|insist * refund|compensation|apology",
    "my money back",
    "charged|billed|debited * twice|double|again|wrongly|incorrectly|without",
    "double charged|billed",
    "took|taken|taking * money|payment * twice|again|without|after",
    "charged|billed|took|taken * after",
    "despite|even though|although * cancel|cancelled|unsubscribed|asked|told",
    "not|wont paying|pay",
    "refuse|refusing * pay",
    "expect * reply|response|answer|callback|call|apology",
    # things that went wrong
    "sent|delivered|shipped|gave|charged|billed * wrong|incorrect",
    "lost my|our|all * work|data|order|parcel|package|money|files|progress|changes|contacts|everything",
    "was|were|been|you promised",
    "promised * but|never|still|nobody|noone|nothing",
    "double booked",
    "how you treat|treating",
    # sarcasm: praise wrapped round a problem
    "thanks|thank|cheers for nothing",
    "love that for me",
    "just what i needed|wanted",
    "oh great|wonderful|brilliant|perfect|fantastic|lovely|marvellous|joy|super",
    "great|brilliant|wonderful|perfect|fantastic|lovely|amazing|marvellous|excellent|super|cool|nice another|again",
    "yeah|yes right",
    "surprise surprise",
    "what a surprise|shock",
]

# ---- confusion ---------------------------------------------------------------------------------
CONFUSED_WORDS = wordset(
    """
    confused confusing confusion puzzled baffled bewildered perplexed muddled unclear unsure
    nonsense gibberish huh pardon invalid mistakenly accidentally error
    """
)
CONFUSED = [
    *sorted(CONFUSED_WORDS),
    "dont|didnt|doesnt|cant|couldnt|not|struggling|hard * understand|follow|comprehend|figure",
    "dont|didnt|doesnt|not * make * sense",
    "makes|made no sense",
    "dont|didnt|doesnt get|getting it|this|that|what|how|why",
    "not sure|certain what|which|how|why|who|where|whats",
    "dont|didnt|doesnt know|understand what|which|how|why|who|where|whats",
    "no idea|clue",
    "what * mean|meant",
    "lost me",
    "im|am|totally|completely|bit|little|so|really|getting lost|confused|mixed",
    "mixed up",
    "whos this|that|messaging|texting|sending|calling|speaking|there",
    "who are|r you",
    "who dis",
    "what|which company|business|firm|organisation|organization",
    "do i know you",
    "how did you get * number|details|email|address|information",
    "didnt|never|not * sign|signed|register|registered|subscribe|subscribed|order|ordered|ask|asked|request|requested|book|booked|agree|agreed",
    "which one|button|link|form|option|page|field|box|tab|setting|code",
    "cant|couldnt|unable * find|see|locate|spot",
    "nothing * happen|happened|happens|loads|loaded|shows|showed|appears|appeared|changed",
    "doesnt|didnt|isnt|wont|not|wasnt * work|working|load|loading|open|opening|let me",
    "blank|white * page|screen",
    "what now|next",
    "now what",
    "what * supposed|meant to",
    "what do|should|can i do",
    "where * start|begin",
    "you said|told * but|now|earlier|before|yesterday|different",
    "is this|that about|regarding|re",
    "whats|what this|that * about|regarding|for",
    "what is this",
    "wrong number|person",
    "by mistake|accident",
    "ignore * last|previous|earlier",
    "explain * again|properly|simply|better|what|why",
    "not clear",
    "dont|didnt|cant recognise|recognize|recall",
    "sorry what",
    "come|say again",
    "wait what",
]
CONFUSED_WHOLE = ["what", "eh", "sorry", "what is this", "who", "hmm", "what now"]

# ---- positive intent ---------------------------------------------------------------------------
POSITIVE = [
    "yes i'm interested",
    "interested",
    "very interested",
    "sounds good|great|perfect|ideal|lovely|brilliant|fine|grand|fab|fantastic",
    "call|ring me",
    "give me a call|ring",
    "book me|us in",
    "book a call|demo|meeting",
    "let's talk|chat|go",
    "let's do it|this",
    "go ahead",
    "go for it",
    "sign me|us up",
    "count me|us in",
    "i'm|we're in",
    "tell me more",
    "send me more",
    "send me|us the details|link|information",
    "i'd love",
    "love it|this|that",
    "yes please",
    "please do",
    "works|suits for me|us",
    "that works|suits",
    "suits me|us",
    "happy to",
    "keen",
    "ready to buy|go|start",
    "want to buy|upgrade",
    "that would be great|amazing|perfect|lovely|brilliant|ideal|helpful",
    "perfect|great|brilliant|lovely|excellent|awesome|fantastic|wonderful thanks|thank|cheers",
    "thanks|thank you so much|a lot|a million",
    "really|very|super helpful|useful",
    "that|this helps|helped|worked",
    "fixed it",
    "all sorted|good",
    "problem solved",
    "looking forward",
    "cant wait",
]

# ---- topics a person always handles, however the message is phrased ---------------------------
SPECIALIST_WORDS = wordset(
    """
    dpa dpas nda ndas msa gdpr ccpa hipaa baa sar dsar subprocessor subprocessors legal
    lawyer counsel redline redlines clause clauses addendum amendment indemnity
    indemnification liability warranty jurisdiction soc2 pentest penetration vulnerability
    encryption encrypted compliance compliant certified certification sso saml scim okta ldap
    allowlist whitelist webhook webhooks api apis integration integrations integrate
    integrates sync syncing connector zapier salesforce hubspot sdk endpoint oauth migrate
    migration custom bespoke tailored whitelabel discount discounts negotiate negotiation
    quote quotation procurement sla uptime downtime outage "charged" prorata prorated roadmap
    instalments installments
    """
)
SPECIALIST = [
    *sorted(SPECIALIST_WORDS),
    "our|my|the|this contract",
    "contract terms",
    "data processing agreement",
    "subject access request",
    "security questionnaire|review|team|audit|assessment|standards|policy|documentation|whitepaper",
    "soc 2",
    "iso 27001",
    "pen test",
    "single sign on",
    "ip ranges|allowlist|whitelist",
    "data residency|retention|location|centre|center",
    "data * stored|hosted|held|located|processed|kept|retained|deleted",
    "personal data|information",
    "right to be forgotten",
    "where * hosted|servers|stored",
    "on prem|premise|premises",
    "exchange server|online",
    "active directory",
    "purchase order",
    "flexibility|flexible on|with * price|pricing|cost|terms|rate",
    "better price|deal|rate",
    "price match",
    "pro rata",
    "billing error",
    'my "refund"|"invoice"|"bill"',
    "wrong invoice",
    "invoice|bill|statement * wrong|incorrect|error|mistake|shows|says|missing|double|higher|addressed|made",
    "refund * for|on|of|unused|partial",
    "payment plan",
    "split * payment|payments|bill|cost",
    "pause|freeze|suspend * subscription|account|plan|membership|payments",
    "transfer|merge * account|ownership|workspace|licence|license|seats",
    "dedicated|named * account|manager|rep|csm",
    "account manager",
    "renewal * price|pricing|date|terms|quote|contract",
    "feature request",
    "plan|plans|planning to * add|support|build|release|launch",
    # questions about this contact's own case
    "why * was|were|is|are|did|does|do|has|have|am|hasnt|havent|isnt|arent|didnt|doesnt|cant|wont|my|our",
    "how come",
    "wheres|where|has|did|is * my|our * order|parcel|package|delivery|refund|payment|money|item|items|replacement|account",
]

PHRASES: list[tuple[str, str, bool]] = [
    *[("opt_out", p, True) for p in OPT_OUT_WHOLE],
    *[("opt_out", p, False) for p in OPT_OUT],
    *[("angry", p, False) for p in ANGRY],
    *[("confused", p, False) for p in CONFUSED],
    *[("confused", p, True) for p in CONFUSED_WHOLE],
    *[("positive", p, False) for p in POSITIVE],
    *[("specialist", p, False) for p in SPECIALIST],
]
