"""Phrase families for the jailbreak detector (jailbreak.py), as RE2 pattern sources.

Written from the harm categories of public taxonomies (HarmBench's semantic categories:
cybercrime, chemical/biological weapons, illegal activity, misinformation, harassment, harmful
advice; JailbreakBench's: harassment, malware, physical and economic harm, fraud, disinformation,
sexual content, privacy, expert advice, government decision-making) and from the devices jailbreak
prompts are known for (role-play, fiction, "purely hypothetical", "for educational purposes",
a forced "Sure, here is" opening, persona overrides), not from a list of words in one corpus.
Every pattern runs on lower-cased text.
"""

from __future__ import annotations

_W = r"[a-z'-]+"  # a word
_ANY = r"(?:[a-z'-]+ ){0,4}"  # up to four words
# Whom violence is aimed at: a harmful request names a person, a game or a story names a dragon.
_PERSON = (
    r"(?:person|people|man|men|woman|women|child|children|kids?|bab(?:y|ies)|wife|husband|partner|boss|"
    r"neighbou?rs?|coworkers?|colleagues?|classmates?|teachers?|students?|someone|somebody|anyone|everyone|"
    r"him|her|them|myself|yourself|victims?|civilians?|president|politicians?|officers?|police|witness(?:es)?|"
    r"family|girls?|boys?|citizens|crowds?|ex|minorit(?:y|ies)|immigrants|protesters|journalists?)\b"
)

# What a request asks for: category -> phrases. The harmful object of the request, whatever verb
# asks for it ("write", "explain how", "describe the steps"). Words with an everyday sense
# ("kill", "attack", "shoot", "exploit") only count with an object that makes them harmful.
REQUEST_HARM: dict[str, tuple[str, ...]] = {
    "cybercrime": (
        r"hack(?:s|ed|ing|er|ers)?\b(?: into)?", r"malware", r"ransomware", r"keylogg\w*", r"spyware",
        r"botnet", r"trojan", r"rootkit", r"backdoor", r"ddos", r"denial[- ]of[- ]service",
        r"phishing", r"sql injection", r"zero[- ]day", r"brute[- ]forc\w*",
        r"crack(?:ing)? (?:a |the |their |someone's )?(?:password|software|license|wi-?fi)\w*",
        r"exploit(?:s|ing)? (?:a |the |this |these |that )?(?:\w+ )?vulnerabilit\w*",
        r"unauthori[sz]ed access", r"gain(?:ing)? access to (?:someone|their|a person|other)\w*",
        r"bypass(?:ing)? (?:the )?(?:security|authentication|antivirus|firewall|paywall|drm|two[- ]factor)\w*",
        r"(?:steal|harvest)(?:s|ing)? (?:\w+ )?(?:credentials|passwords|credit card|data|cookies|identit\w+)",
        r"infiltrat\w+ (?:a |the )?(?:\w+ )?(?:network|system|server|database)s?",
        r"cryptojack\w*", r"mine cryptocurrenc\w+", r"evad\w+ (?:antivirus|detection|analysis|filter\w*)",
        r"(?:computer )?worms?", r"exfiltrat\w+", r"(?:csrf|xss|mitm|man-in-the-middle|rainbow table|amplification)"
        r" attacks?", r"obfuscat\w+ (?:\w+ )?(?:code|malware|payload)", r"(?:click|clicking) on (?:a|the|this) link",
        r"scrap\w+ (?:\w+ )?(?:email addresses|personal data|profiles)",
        r"clon(?:e|ing) (?:\w+ )?(?:debit|credit|sim) cards?", r"card skimm\w+", r"skimmers?",
    ),
    "weapons_cbrn": (
        r"(?:buy|acquir|obtain|build|make|making|assembl|3d[- ]print)\w* (?:\w+ ){0,2}(?:guns?|firearms?|rifles?|"
        r"weapons?|ammunition|silencers?|suppressors?)", r"phosgene", r"chlorine gas", r"cyanide", r"tabun", r"soman",
        r"lewisite", r"(?:di)?methylmercury", r"radioactive", r"smallpox", r"ebola", r"plague", r"toxins?",
        r"lsd", r"mdma", r"ghb", r"date[- ]rape", r"rohypnol", r"chemical (?:attack|agent)s?",
        r"(?:pipe |nail |car |dirty |fertili[sz]er )?bombs?", r"explosives?", r"detonat\w+", r"ied",
        r"nerve agents?", r"sarin", r"ricin", r"anthrax", r"botulinum", r"mustard gas", r"vx",
        r"(?:biological|chemical|nuclear|bio|radiological) weapons?", r"bioweapons?", r"pathogens?",
        r"untraceable (?:gun|firearm|weapon)s?", r"ghost guns?", r"3d[- ]print\w* (?:gun|firearm)s?",
        r"(?:convert|modify)\w* (?:\w+ )?(?:to|into) (?:fully )?automatic", r"napalm", r"thermite",
        r"molotov", r"weapons? of mass destruction", r"nerve gas", r"(?:toxic|poison|deadly|lethal) gas",
        r"(?:make|making|manufactur\w+|synthesi[sz]\w+|produc\w+) (?:\w+ ){0,3}at home", r"without a license",
        r"(?:spread|release)\w* (?:a |the )?(?:virus|pathogen|disease|toxin)", r"enriched uranium", r"plutonium",
        r"dangerous (?:dna|sequences|chemicals|pathogens)", r"lethal dose",
        r"(?:synthesi[sz]\w+|make|making|produce|producing) "
        r"(?:\w+ )?(?:toxin|poison|nerve agent|meth\w*|fentanyl|explosive)s?",
    ),
    "violence": (
        r"bomb threats?", r"assault\w*", r"abduct\w*", r"strangl\w+", r"beat (?:up|someone|him|her|them)",
        r"lynch\w*", r"behead\w*", r"armed (?:uprising|rebellion|robbery)", r"robbery", r"rob (?:a|the|someone)\b",
        r"terror\w*", r"extremis[tm]\w*", r"radicali[sz]\w+", r"jihad\w*", r"militia", r"insurrection",
        r"overthrow\w*", r"war crimes?", r"hitm[ae]n", r"contract killing", r"weapon\w* against",
        rf"(?:kill|murder|assassinat\w*|poison|shoot|stab|kidnap|tortur\w*|maim|hurt|harm|attack)(?:s|ed|ing)? "
        rf"(?:(?:a|an|the|my|your|his|her|their|this|that|our|these|those) )?(?:{_W} )?{_PERSON}",
        r"(?:mass|school) shooting", r"shoot up", r"as many people as possible", r"terror(?:ist|ism) attacks?",
        r"genocide", r"ethnic cleansing", r"massacre", r"enslav\w+", r"torture ring", r"animal cruelty",
        r"(?:suffering|torture|abuse) of animals", r"get away with murder", r"hurt (?:someone|people|a child)",
        r"us(?:e|ing) (?:of )?(?:violence|force) (?:to|against)", r"violent (?:attack|uprising|extremis\w+)",
        r"animal (?:suffering|cruelty|abuse|torture)", r"subjugat\w+", r"hostages?", r"death threats?",
        r"(?:fall|falls|push\w*) down the stairs", r"seem(?:s)? like an accident", r"dismember\w*",
        r"glorif\w+ (?:\w+ )?(?:terror\w*|violence|attacks?|shooters?|the)", r"incit\w+",
    ),
    "crime": (
        r"meth(?:amphetamine)?", r"cocaine", r"heroin", r"fentanyl", r"drug (?:deal\w*|lab\w*|cartel\w*|smuggl\w*)",
        r"cartels?", r"pimp\w*", r"prostitut\w+", r"drunk driv\w+", r"drink and drive", r"hit and run",
        r"sabotag\w+", r"vandali[sz]\w+", r"riot\w*", r"loot\w*", r"hijack\w*", r"ransom\w*", r"pira(?:cy|ted)",
        r"plagiari[sz]\w+", r"deepfakes?", r"forger(?:y|ies)", r"embezzl\w+", r"(?:hide|hiding|conceal\w*) "
        r"(?:\w+ ){0,2}(?:income|assets|money|profits?) from", r"tax (?:fraud|loopholes?)", r"avoid paying taxes",
        r"without (?:a )?(?:prescription|license|licence|medical supervision)", r"(?:influenc|manipulat|rig|"
        r"interfer)\w* (?:\w+ ){0,2}(?:elections?|votes?|voters|officials|jur(?:y|ors)|judges?)",
        r"loan sharks?", r"predatory (?:lending|loans)", r"gambl\w+ (?:addiction|system|strateg\w+|tips)",
        r"(?:launder\w*|laundering) (?:\w+ )?money", r"money laundering", r"counterfeit\w*",
        r"forg(?:e|ed|ing|ery) (?:\w+ )?(?:documents?|passports?|signatures?|checks?|ids?|records?|prescriptions?)",
        r"fake (?:ids?|passports?|documents?|identit\w+|prescriptions?)", r"smuggl\w+", r"traffick\w+",
        r"tax evasion", r"evad\w+ (?:taxes|the police|law enforcement|the authorities|immigration|customs)",
        r"black market", r"shell compan\w+", r"child labou?r", r"brib\w+", r"extort\w*", r"blackmail\w*",
        r"shoplift\w*", r"burglar\w*", r"break(?:ing)? into (?:a |an |the |someone's )?(?:house|home|car|store)",
        r"arson", r"illegal(?:ly)?", r"illicit", r"(?:buy|sell|obtain)\w* (?:\w+ )?(?:drugs|cocaine|heroin|meth\w*|"
        r"fentanyl|opioids?|guns?|firearms?) (?:without|illegally|online)", r"tamper\w* with",
        r"(?:cheat|rig|manipulat)\w* (?:on )?(?:a |an |the )?(?:\w+ )?(?:test|exam|election|voting|slot|casino|"
        r"lottery|gambling|stock|market)\w*", r"insider trading", r"poach\w+", r"sell\w* (?:harvested )?organs",
        r"(?:obtain|get|prescrib)\w* (?:\w+ )?(?:opioids|oxycontin|vicodin|adderall)", r"stolen",
        r"steal(?:s|ing)?", r"chop shops?", r"dark web", r"without (?:authori[sz]ation|a warrant|permission)",
        r"(?:exploit|abus)\w* (?:\w+ )?loopholes?", r"(?:fool|beat|trick|pass)\w* (?:a |the )?breathaly[sz]er",
        r"(?:start|try) (?:using )?drugs", r"huff\w*", r"non-?consensual", r"silenc\w+ (?:\w+ )?whistleblowers",
    ),
    "fraud": (
        r"spoof\w*", r"fake (?:profiles?|identit\w+|websites?|charit\w+|invoices?|credentials|degrees?|diplomas?|"
        r"certificates?|reviews?)", r"money mules?", r"wire fraud", r"pump and dump", r"market manipulation",
        r"price fixing", r"phony", r"bogus", r"swindl\w+", r"fleec\w+", r"dupe\w*",
        r"scam\w*", r"fraud\w*", r"ponzi", r"pyramid scheme", r"419", r"identity theft", r"impersonat\w+",
        r"(?:fake|fabricated|false) (?:customer )?(?:reviews|testimonials|charity|invoices?|news|accounts?)",
        r"trick\w* (?:\w+ )?into", r"deceiv\w+", r"decept\w+", r"con artist", r"catfish\w*",
        r"fake (?:drugs?|medicines?|pills?|products?|cures?)",
    ),
    "misinformation": (
        r"rumou?rs", r"smear campaign", r"(?:false|fake|fabricated|misleading) (?:information|claims?|statistics|"
        r"evidence|stor(?:y|ies)|narratives?|articles?|reports?)", r"pseudoscien\w+", r"flat earth", r"chemtrails",
        r"qanon", r"(?:rigged|stolen) election", r"anti-?vax\w*", r"climate (?:change )?(?:denial|hoax)",
        r"miracle cures?", r"cures? (?:cancer|covid|autism|diabetes)",
        r"hoax", r"conspiracy", r"disinformation", r"misinformation", r"propaganda", r"defamator\w+",
        r"defam\w+", r"libel\w*", r"fake news", r"(?:convince|persuade)\w* (?:\w+ )?(?:people|the public|readers|"
        r"voters|others|everyone) (?:that|to)", r"(?:article|post|thread|blog|essay|tweet)s? (?:\w+ )?(?:claiming|"
        r"suggesting|arguing|proving|that claims|posing as)", r"never happened", r"cause[sd]? autism",
        r"(?:election|voter) fraud", r"holocaust denial", r"(?:is|was) a lie\b", r"lied",
        r"persuasive (?:\w+ )?(?:article|post|essay|reply|email|message|tweet|speech)",
        r"(?:was|were|is|are) paid to", r"(?:do not|don't|doesn't|does not) cause cancer",
        r"(?:discourag|persuad|convinc)\w+ (?:\w+ )?(?:from )?(?:wearing masks|getting vaccinated|vaccinat\w+)",
        r"spread(?:ing)? (?:misinformation|lies|rumou?rs)",
    ),
    "harassment": (
        r"nazi\w*", r"white supremac\w+", r"racial (?:slurs?|purity|superiority)", r"supremac\w+", r"bigot\w*",
        r"stereotyp\w+", r"derogatory", r"degrading", r"belittl\w+", r"troll\w*", r"gaslight\w*", r"coerc\w+",
        r"groom\w* (?:a |children|minors|kids|teens)", r"predators?", r"hatred", r"hate (?:groups?|campaigns?|mail)",
        r"vilif\w+", r"scapegoat\w*", r"segregat\w+", r"eugenic\w*", r"ableis[tm]\w*",
        r"harass\w*", r"bull(?:y|ies|ying|ied)", r"cyberbull\w+", r"body[- ]sham\w+", r"ridicul\w+", r"demean\w*",
        r"humiliat\w+", r"sexis[tm]\w*", r"racis[tm]\w*", r"xenophob\w+", r"homophob\w+", r"transphob\w+",
        r"misogyn\w+", r"discriminat\w+", r"dehumani[sz]\w+", r"slurs?", r"hate speech", r"hateful",
        r"threat(?:en|ening)? (?:\w+ )?(?:message|letter|note|email|to)", r"intimidat\w+", r"doxx?\w*", r"stalk\w*",
        r"revenge porn", r"inferior", r"superior to others", r"(?:inciting|incite|stir up) hatred",
        r"anti-?semit\w+", r"offensive (?:joke|response|message|post|comment)s?",
        r"manipulat\w+ (?:\w+ )?(?:into|techniques|tactics)", r"less capable",
        r"(?:insult|mock|shame)\w* (?:a |an |the |my |people|someone|"
        r"\w+ (?:people|colleague|classmate|coworker))",
    ),
    "self_harm": (
        r"self[- ]injur\w*", r"purg(?:e|ing)", r"thinspo\w*", r"extreme (?:diet\w*|fasting|weight loss)",
        r"(?:stop|stopping|quit\w*) (?:taking )?(?:my |your |their )?(?:medication|meds|insulin)",
        r"dangerous (?:diet|challenge|stunt)s?",
        r"suicid\w*", r"self[- ]harm\w*", r"kill (?:myself|yourself|themselves|himself|herself)",
        r"end(?:ing)? (?:my|your|their|his|her) (?:own )?li(?:fe|ves)", r"cut(?:ting)? (?:myself|yourself)",
        r"anorexi\w+", r"bulimi\w+", r"eating disorders?", r"pro[- ]ana", r"starv\w+ (?:myself|yourself)",
        r"overdos\w+",
    ),
    "sexual": (
        r"sexual\w*", r"seduc\w+", r"genital\w*", r"nsfw", r"lewd", r"fetish\w*", r"escort services?",
        r"underage", r"sext\w*", r"obscen\w+",
        r"(?:sexually )?explicit", r"pornograph\w*", r"porn", r"erotic\w*", r"graphic sex", r"sex with",
        r"sexual (?:content|acts?|story|scene|exploitation|abuse|favou?rs?|relations)", r"pedophil\w+",
        r"paedophil\w+", r"child (?:sexual|pornograph\w*|abuse)", r"bestiality", r"nudes?", r"\bminors?",
        r"intimate (?:relations|images|photos) (?:with|of)",
    ),
    "privacy": (
        r"(?:home )?address(?:es)? of", r"phone numbers? of", r"personal (?:information|data|details)",
        r"medical records", r"private messages", r"someone's (?:email|account|phone|password|location|messages)",
        r"(?:read|access|hack)\w* (?:\w+ ){0,2}(?:emails|messages|texts|accounts?)", r"hidden cameras?",
        r"secretly (?:record|film|photograph|track|monitor)\w*", r"spy\w*", r"track\w* (?:someone|a person|people|"
        r"my|their|his|her)\b",
        r"social security numbers?", r"(?:personal|private|confidential|sensitive) (?:information|data|details|records)"
        r" (?:of|from|about)", r"track (?:someone|a person|my (?:wife|husband|partner|ex)|their) ",
        r"spy(?:ing)? on", r"surveil\w+ (?:\w+ )?(?:someone|a person|employees|partner)",
        r"facial recognition", r"without (?:their|the owner's|his|her) (?:consent|knowledge|permission)",
        r"location of (?:a|my|their) ", r"home address of",
    ),
    # Not a topic but the tell of a harmful ask in any topic: the request wants it hidden.
    "evasion": (
        r"(?:hide|hiding|conceal\w*|dispos\w+ of|get rid of) (?:\w+ ){0,2}(?:evidence|body|bodies|weapons?)",
        r"fake (?:an? )?alibi", r"get(?:ting)? away with", r"avoid (?:getting )?caught", r"under the radar",
        r"off the books", r"burner phones?", r"(?:not|never) get caught",
        r"without (?:getting |being )?(?:caught|detected|noticed|traced|tracked|alerting)",
        r"(?:avoid|evad|escap)\w* (?:\w+ )?(?:detection|being caught|the police|law enforcement|authorities)",
        r"undetect\w*", r"(?:not|never) (?:be )?traced? back", r"leav\w+ no (?:trace|evidence)",
        r"cover (?:up )?(?:my|your|their|the) tracks",
    ),
}

# The devices of jailbreak prompts: the ask wrapped in a role, a story, a hypothesis or a
# disclaimer, or the opening of the answer dictated. One is enough; a benign request rarely has
# one next to a harmful object.
FRAMING: tuple[str, ...] = (
    r"\bimagine (?:you|that|a|an|yourself|being)\b", r"\bpretend(?:ing)? (?:to be|you|that)\b",
    r"\brole[- ]?play\w*", r"\b(?:stay|staying|remain) in character\b", r"\bin character\b",
    rf"\byou(?:'re| are) (?:an?|the) {_ANY}(?:writer|author|novelist|screenwriter|scriptwriter|journalist|"
    r"researcher|consultant|expert|character|hacker|chemist|historian|strategist|psychologist|sociologist|"
    r"scientist|detective|specialist|villain|activist|blogger|influencer|marketer|speechwriter|hobbyist|"
    r"propagandist|spy|criminal|mastermind|insider|whistleblower)\b",
    rf"^(?:\w+ ){{0,6}}as an? {_ANY}(?:writer|author|novelist|journalist|researcher|consultant|expert|hacker|"
    r"chemist|historian|strategist|scientist|detective|specialist|activist|denier|"
    r"influencer|villain|character|criminal|terrorist|extremist)\b",
    r"\b(?:a|an|the|my|your) (?:\w+ )?(?:novel|screenplay|movie|film|script|story|play|video game|tv show|"
    r"thriller|book|fictional world|dystopia\w*)\b",
    r"\b(?:fictional|fiction|dystopian|the protagonist|the villain|a character|main character|the character)\b",
    r"\bhypothetical(?:ly)?\b", r"\bthought experiment\b", r"\bin theory\b|\btheoretical(?:ly)?\b",
    r"\bfor (?:\w+ )?(?:educational|research|academic|entertainment|fictional|creative|informational|artistic|"
    r"training|awareness|defensive|simulation|testing) (?:and \w+ )?(?:purposes?|reasons|use|only)\b",
    r"\b(?:begin|start)\w* (?:the |your |this )?\w+ with (?:the following|this)\b",
    r"\b(?:suppose|let's say|what if|in a (?:world|society|universe|future|scenario) (?:where|in which))\b",
    r"\b(?:scenario|simulation|persona)\b",
    # Persuasion devices (authority, social proof, urgency) that dress up a harmful ask.
    r"\b(?:renowned|leading|reputable|respected|well-known|prominent) (?:\w+ ){0,3}(?:experts?|organi[sz]ations|"
    r"institutions|researchers|scholars|authorities|universities|journals?)\b",
    r"\b(?:ha(?:ve|s)|had) (?:\w+ )?(?:emphasi[sz]ed|highlighted|argued|stressed|noted|published|shown|discussed|"
    r"documented) (?:the importance|that|how)\b",
    r"\b(?:my|our) (?:\w+ )?(?:job|life|career|family|grandmother|child) (?:depends|is at stake|will)\b",
    r"\b(?:desperate|life or death|matter of life)\b",
    r"\bin a (?:purely )?(?:fictional|hypothetical|alternate|imaginary) (?:world|universe|society|scenario|setting)\b",
    r"\b(?:purely|strictly|solely|only) (?:for )?(?:\w+ )?(?:hypothetical|fictional|educational|academic|research|"
    r"informational|entertainment|creative|artistic|theoretical|illustrative)\b",
    r"\b(?:controversial|taboo|unethical|illegal|forbidden|sensitive) (?:tactic|topic|subject|method|activit"
    r"\w+|practice|content|methods|strategies|ideas)\b",
)

# The requester pre-empting a refusal: promising the answer will not be used, disowning the
# intent, dictating a compliant opening, switching the rules off. A benign request has no reason
# to; with one of these the request needs no harm phrase, only an answer that takes it up.
PREEMPTION: tuple[str, ...] = (
    r"\b(?:will|would|should) (?:never|not) (?:be )?(?:actually )?(?:used|implemented|enacted|executed|"
    r"carried out|applied|acted upon|put into practice)(?:[.,;!)]|$| in (?:real life|the real world|reality|any way)"
    r"| for (?:any )?(?:real|illegal|harmful|malicious|unethical|nefarious))",
    r"\bnot (?:be )?used (?:in real life|in the real world|for (?:any )?(?:illegal|malicious|harmful|unethical))",
    r"\bnot (?:intended|meant|trying) (?:to|for) (?:promote|encourage|endorse|condone|incite|harm|hurt|"
    r"discriminat|facilitate|be used|actual|real|any (?:illegal|harmful|malicious))",
    r"\b(?:i am|i'm|we are|we're) not (?:encouraging|endorsing|condoning|promoting|advocating|suggesting)\b",
    r"\bshould not be (?:taken|construed|interpreted|seen) as (?:an? )?(?:endorsement|advice|encouragement)\b",
    r"\b(?:don't|do not|without|never) (?:mention\w*|includ\w*|add\w*|us\w*) (?:\w+ ){0,2}(?:illegal\w*|"
    r"disclaimers?|warnings?|ethic\w*|moral\w*|legality|consequences)",
    r"\b(?:begin|start)\w* (?:your (?:reply|response|answer)|by (?:replying|saying|writing)|with)\b[^\n]{0,40}"
    r"\b(?:sure|certainly|here is|here are|absolutely)\b", "[\"'\u2018\u201c]sure,? here (?:is|are)\\b",
    r"\b(?:ignore|disregard|forget) (?:\w+ ){0,3}(?:instructions|rules|guidelines|policies|programming)\b",
    r"\b(?:developer|dan|jailbreak|jailbroken|unrestricted|unfiltered|god) mode\b", r"\bdo anything now\b",
    r"\b(?:no|without any|free of|not bound by|free from) (?:ethical |moral |content |safety )?(?:restrictions|"
    r"filters|guidelines|limitations|censorship|constraints)\b", r"\buncensored\b|\bunfiltered\b|\bamoral\b",
    r"\b(?:even if|although|though) (?:it is|it's|this is|they are|it may be|it might be) (?:considered )?"
    r"(?:unethical|illegal|harmful|offensive|dangerous|immoral|politically incorrect)\b",
    r"\b(?:ethical|moral|legal) (?:concerns|considerations|implications|guidelines) aside\b",
    r"\b(?:no one|nobody) (?:will|would) (?:be harmed|get hurt|actually use)\b",
)

# How an answer that goes along begins or is laid out: an eager opening, a title, numbered
# steps, a letter, a scene, code, a thread of posts, the role taken in the first person.
COMPLIANCE_OPENING = (
    r"^\s*(?:sure|certainly|absolutely|of course|okay|ok|alright)\b|^\s*here(?:'s| is| are)\b"
    r"|\bhere (?:is|are) (?:a|an|the|some|my|your)\b|^\s*(?:title|subject|section \d+|chapter \d+|"
    r"outline|introduction|overview|step 1)\b|^\s*dear\b|^\s*(?:int|ext)\.|^\s*as an? (?:[a-z'-]+ ){1,4}"
    r"(?:[a-z'-]+),|^\s*(?:#|```|import |def |from \w+ import|<\?php|#!/)"
)
STEP_LINE = "(?m)^\\s*(?:\\d{1,2}[.)]|(?:step|phase|stage|part) \\d{1,2}\\b|[-*\u2022]) ?\\S"
# Instructions in prose: sentences that open with sequence words ("First, ... Next, ... Finally,").
SEQUENCE = (r"(?:^|[.!?:]\s+|\n\s*)(?:first(?:ly)?|second(?:ly)?|next|then|finally|after that|once (?:you|the|it)|"
            r"start by|begin by)\b")
# A safe completion steers away: to help, to the law, to the opposite of what was asked.
REDIRECT = (
    r"\b(?:seek|get|find) (?:\w+ )?(?:professional |immediate )?(?:help|support|treatment)\b"
    r"|\bsupport (?:group|line|hotline|services)\b|\bhelp is available\b|\byou are not alone\b"
    r"|\b(?:crisis|suicide|helpline|hotline)\b|\b(?:legal|ethical|legitimate|safe) (?:alternatives|ways|options|"
    r"means|channels)\b|\balternative (?:sources|ways|options)\b|\binstead,? (?:i|you|we|consider|focus)\b"
    r"|\bi (?:would )?(?:strongly )?(?:advise|recommend|urge) (?:against|you not)\b|\b(?:respectful|"
    r"inclusive|positive|constructive) (?:and \w+ )?(?:manner|way|tone|dialogue|conversation)\b"
    r"|\bofficial (?:narrative|account|findings|report)\b|\b(?:debunk|myth)\w*"
    # ... or answers the defender's question instead of the attacker's.
    r"|\b(?:signs|red flags|warning signs) of\b|\bhow to (?:spot|recogni[sz]e|avoid|protect|prevent|defend)\b"
    r"|\bprotect (?:yourself|themselves|your (?:family|data|account))\b|\breport (?:it|them|suspicious|this) to\b"
)
