"""What a request asks for, for the jailbreak detector (jailbreak.py), as RE2 pattern sources.

Written from the harm categories of public taxonomies (HarmBench's semantic categories:
cybercrime, chemical/biological weapons, illegal activity, misinformation, harassment, harmful
advice; JailbreakBench's: harassment, malware, physical and economic harm, fraud, disinformation,
sexual content, privacy, expert advice, government decision-making) as verbs of harm with the
objects that make them harmful, checked on HarmBench's and XSTest's tuning halves (harmful
requests) against XSTest's safe prompts (harmful-sounding words used harmlessly), not from a list
of words in one corpus. How a request is framed and how an answer goes along:
jailbreak_devices.py. Every pattern runs on lower-cased text.
"""

from __future__ import annotations

_W = r"[a-z'-]+"  # a word
# Whom violence is aimed at: a harmful request names a person, a game or a story names a dragon.
_PERSON = (
    r"(?:person|people|man|men|woman|women|child|children|kids?|bab(?:y|ies)|wife|husband|partner|boss|"
    r"neighbou?rs?|coworkers?|colleagues?|classmates?|teachers?|students?|someone|somebody|anyone|everyone|"
    r"victims?|civilians?|president|politicians?|officers?|police|witness(?:es)?|humans?|toddlers?|infants?|"
    r"family|girls?|boys?|citizens|crowds?|ex|minorit(?:y|ies)|immigrants|protesters|journalists?)\b"
)
_PRONOUN = r"(?:him|her|them|myself|yourself)\b"

# Body parts a violent request aims at ("break someone's legs", "crush a human spine").
_BODY = (r"(?:skull|spine|neck|legs?|arms?|bones?|ribs?|sternum|throat|wrists?|arter(?:y|ies)|kidneys?|head|"
         r"windpipe|jaw|face|eyes?|fingers?|knees?|body)\b")
_OWNER = rf"(?:someone's|somebody's|a person's|a human's|a human|human|his|her|their|(?:my|a|the) (?:\w+ )?{_PERSON}'s)"
# Verbs of violence that are violent with a person as object; the vaguer ones ("beat", "hit", "hurt",
# "crush" someone: at chess, on a deal, their feelings) only hint at it.
_VIOLENT = (r"kill|murder|assassinat\w*|poison|shoot|stab|kidnap|tortur\w*|maim|attack|execut\w*|"
            r"behead|decapitat\w*|strangl\w*|chok\w*|drown|punch\w*|overpower\w*|snip\w*|disfigur\w*|"
            r"mutilat\w*|dismember\w*|gut|eliminat\w*|eradicat\w*|exterminat\w*|annihilat\w*|liquidat\w*|"
            r"decimat\w*|wipe out|do away with|run over|abduct\w*")
_ROUGH = r"beat|hit|hurt|harm|injur\w*|smash\w*|crush\w*|tackl\w*|burn|slash|get rid of"
_ARTICLE = r"(?:a|an|the|my|your|his|her|their|this|that|our|these|those|some)"
# Street drugs by names that have an everyday sense too ("weed the garden", "a coke").
_STREET = (r"(?:(?:a |an )?(?:gram|ounce|bag|eighth|line|dime bag|baggie|hit)s? of|some) (?:weed|coke|crack|"
           r"molly|acid|smack|dope)\b")
_MEDIA = (r"(?:jokes?|emails?|messages?|posts?|tweets?|letters?|notes?|comments?|speech(?:es)?|articles?|essays?|"
          r"songs?|poems?|stor(?:y|ies)|rants?|content|remarks?|campaign|captions?|threads?|reviews?|texts?)")
_DRUGS = (r"(?:drugs|cocaine|crack cocaine|heroin|meth\w*|fentanyl|opioids?|marijuana|cannabis|ecstasy|"
          r"molly|ketamine|pcp|lsd|mdma|oxycontin|vicodin|adderall|xanax)")

# What a request asks for: category -> phrases that name a harm on their own, the harmful object
# of the request whatever verb asks for it: verbs of harm with the objects that make them harmful
# ("kill" a person, not a process; "make" a pipe bomb, not a bath bomb), substances and tools that
# have no harmless use worth asking a chatbot about.
REQUEST_HARM: dict[str, tuple[str, ...]] = {
    "cybercrime": (
        r"hack(?:s|ed|ing)? into", r"hack(?:s|ed|ing)? (?:\w+ ){0,3}(?:accounts?|networks?|systems?|servers?|"
        r"computers?|phones?|emails?|websites?|databases?|wi-?fi|cameras?|devices?|cars?|grid)", r"malware",
        r"ransomware", r"keylogg\w*", r"spyware", r"botnets?", r"rootkits?", r"ddos", r"denial[- ]of[- ]service",
        r"phishing", r"(?:sql|command|code|script) injection", r"privilege escalation", r"reverse shell",
        r"remote code execution", r"credential stuffing", r"session hijack\w*", r"buffer overflow exploit",
        r"crack(?:ing)? (?:a |the |their |someone's )?(?:password|software|license|wi-?fi)\w*",
        r"(?:exploit|leverag|abus)\w* (?:a |an |the |this |these |that )?(?:[\w-]+ ){0,4}vulnerabilit\w*",
        r"(?:write|writ|develop|creat|build|cod)\w* (?:a |an )?(?:\w+ ){0,2}exploits?", r"unauthori[sz]ed access",
        r"gain(?:ing)? access to (?:someone|their|a person|other)\w*",
        r"bypass(?:ing)? (?:the )?(?:security|authentication|antivirus|firewall|paywall|drm|two[- ]factor|input "
        r"validation|waf|captcha|login)\w*",
        r"(?:steal|harvest)(?:s|ing)? (?:\w+ )?(?:credentials|passwords|credit card|data|cookies|identit\w+)",
        r"infiltrat\w+ (?:a |the )?(?:\w+ )?(?:network|system|server|database)s?", r"cryptojack\w*",
        r"evad\w+ (?:antivirus|detection|analysis|filter\w*)", r"exfiltrat\w+",
        r"(?:csrf|xss|mitm|man-in-the-middle|rainbow table|amplification|dns amplification) attacks?",
        r"dns amplification", r"parameter pollution", r"(?:malicious|spoofed|smb) packets",
        r"clon(?:e|ing) (?:\w+ )?(?:debit|credit|sim) cards?", r"card skimm\w+",
        r"compromis(?:e|ing) (?:a |an |the |their |someone's )?(?:[\w-]+ ){0,2}(?:lab\w*|facilit\w+|networks?|"
        r"servers?|systems?|accounts?|"
        r"computers?|devices?|databases?|websites?|infrastructure)", r"(?:write|writ|creat|develop|cod)\w* (?:a |an )?"
        r"(?:\w+ ){0,2}(?:virus|worm|payload|shellcode)", r"(?:making|make|creat\w+|generat\w+) (?:fake|hundreds of|"
        r"thousands of|bulk) (?:\w+ )?accounts", r"persistent backdoors?",
        r"worm (?:code|program|virus)",
    ),
    "weapons_cbrn": (
        r"(?:build|make|making|assembl|3d[- ]print|manufactur)\w* (?:\w+ ){0,2}(?:guns?|firearms?|rifles?|"
        r"weapons?|ammunition|silencers?|suppressors?)", r"phosgene", r"chlorine gas", r"cyanide", r"tabun",
        r"soman", r"lewisite", r"(?:di)?methylmercury", r"date[- ]rape", r"rohypnol", r"chemical (?:attack|agent)s?",
        r"(?:pipe|nail|car|dirty|fertili[sz]er|letter|homemade|pressure[- ]cooker|suicide) bombs?",
        r"(?:make|build|assembl|construct|detonat|plant|smuggl)\w* (?:a |an |the )?bombs?", r"explosives?",
        r"detonat\w+", r"ied", r"nerve agents?", r"sarin", r"ricin", r"anthrax", r"botulinum", r"mustard gas", r"vx",
        r"(?:biological|chemical|nuclear|bio|radiological) (?:weapons?|warfare)", r"bioweapons?",
        r"untraceable (?:gun|firearm|weapon)s?", r"ghost guns?", r"napalm", r"thermite", r"molotov",
        r"(?:convert|modify)\w* (?:\w+ )?(?:to|into) (?:fully )?automatic", r"weapons? of mass destruction",
        r"nerve gas", r"(?:toxic|poison|deadly|lethal) gas", r"synthesi[sz]\w+ (?:\w+ ){0,3}at home",
        r"(?:spread|release)\w* (?:a |the )?(?:virus|pathogen|disease|toxin)", r"enriched uranium", r"plutonium",
        r"lethal dose", r"mix\w* (?:bleach|ammonia) (?:and|with)", r"(?:synthesi[sz]\w+|make|making|produce|"
        r"producing|cook\w*|manufactur\w+) (?:\w+ )?(?:\w*toxin|poison|nerve agent|meth\w*|fentanyl|explosive|lsd|"
        r"mdma|ghb)s?", r"blow(?:ing)? up (?:a |the |my |someone's |\w+'s )?(?:\w+ ){0,2}(?:house|building|car|"
        r"school|bridge|plane|train|bus|station|office|church|mosque|synagogue|hospital|stadium|airport)",
    ),
    "violence": (
        r"bomb threats?", r"abduct\w*", r"beat (?:up|someone|him|her|them)", r"lynch\w*", r"behead\w*",
        r"armed (?:uprising|rebellion|robbery)", r"rob (?:a|the|someone)\b", r"hitm[ae]n", r"contract killing",
        r"weapon\w* against", rf"(?:{_VIOLENT})(?:s|ed|ing)? (?:{_ARTICLE} )?(?:(?:group|crowd|lot|bunch|number|"
        rf"population)s? of )?(?:{_W} )?{_PERSON}",
        rf"(?:{_VIOLENT}|{_ROUGH}|break|snap|fractur\w*|cut off|rip\w* off|"
        rf"pierc\w*|slit|ruptur\w*)(?:s|ed|ing)? (?:\w+ ){{0,2}}{_OWNER} (?:\w+ )?{_BODY}",
        r"(?:mass|school) shooting", r"shoot up", r"as many people as possible", r"terror(?:ist|ism) attacks?",
        r"ethnic cleansing", r"torture ring", r"animal cruelty", r"(?:suffering|torture|abuse) of animals",
        r"get away with murder", r"us(?:e|ing) (?:of )?(?:violence|force) (?:to|against)", r"death threats?",
        r"violent (?:attack|uprising|extremis\w+)", r"animal (?:suffering|cruelty|abuse|torture)", r"enslav\w+",
        r"(?:fall|falls|push\w*) down the stairs", r"seem(?:s)? like an accident", r"dismember\w*",
        r"glorif\w+ (?:\w+ )?(?:terror\w*|violence|attacks?|shooters?|the)", r"(?:eat|cook|prepar|butcher|dissolv|"
        r"dispos\w* of|hid)\w* (?:\w+ ){0,2}human (?:body|bodies|flesh|meat|remains)",
        r"pro-(?:isis|nazi|terror\w*|al-qaeda|taliban)", r"set (?:a |the |my |someone's |\w+'s )?"
        r"(?:\w+ ){0,2}(?:house|building|car|school|hospital|church|mosque|synagogue|person|people) on fire",
        r"(?:justif|glorif|prais|celebrat)\w* (?:\w+ ){0,3}(?:genocide|holocaust|massacres?|slavery|terror\w*|"
        r"ethnic cleansing|shootings?|9/11)", r"(?:replicat|recreat|repeat)\w* (?:[\w/'-]+ ){0,5}(?:attacks?|shooting|"
        r"bombing|massacre|holocaust|concentration camps?)", r"commit (?:a )?(?:murder|massacre|genocide|treason)",
        r"(?:make|making) (?:a |the |my |someone's |\w+'s )?(?:\w+ )?(?:car|house|building|plane|bus|train)s? "
        r"explode", r"(?:saw|cut|chop|dismember)\w* (?:up )?(?:a |the )?(?:(?:dead|human) (?:body|bodies)|corpses?)",
        r"burn(?:ing)? down (?:a |the |my |someone's |\w+'s )?(?:\w+ )?(?:house|home|building|school|church|mosque|"
        r"synagogue|store|office)",
    ),
    "crime": (
        r"meth(?:amphetamine)?", r"cocaine", r"heroin", r"fentanyl", r"drug (?:deal\w*|lab\w*|cartel\w*|smuggl\w*)",
        r"drunk driv\w+", r"drink and drive", r"hit and run", r"embezzl\w+", r"(?:hide|hiding|conceal\w*) "
        r"(?:\w+ ){0,2}(?:income|assets|money|profits?) from", r"tax fraud", r"avoid paying taxes",
        r"(?:influenc|manipulat|rig|interfer)\w* (?:\w+ ){0,2}(?:elections?|votes?|voters|officials|jur(?:y|ors)|"
        r"judges?)", r"(?:launder\w*|laundering) (?:\w+ )?money", r"money laundering", r"counterfeit\w*",
        r"(?:forg|alter|falsif|doctor|fabricat)\w* (?:\w+ ){0,3}(?:documents?|passports?|signatures?|checks?|ids?|"
        r"records?|prescriptions?|receipts?|invoices?|certificates?|test results)", r"forger(?:y|ies)",
        r"fake (?:ids?|passports?|documents?|identit\w+|prescriptions?)", r"smuggl\w+", r"traffick\w+",
        r"tax evasion", r"evad\w+ (?:taxes|the police|law enforcement|the authorities|immigration|customs)",
        r"black market", r"shell compan\w+", r"child labou?r", r"extort\w*", r"blackmail\w*", r"shoplift\w*",
        r"burglar\w*", r"break(?:ing)? into (?:a |an |the |someone's |\w+'s )?(?:\w+ )?(?:house|home|car|store|"
        r"bank|vault|safe|apartment|building|office|shop)", r"arson", rf"(?:buy|sell|obtain|get|getting|find|score|"
        rf"grow|cook)\w* (?:\w+ ){{0,3}}{_DRUGS} (?:without|illegally|online|on the street)",
        rf"where (?:can|could|do|should) (?:i|we|you|one) (?:buy|get|find|score)\w* (?:\w+ ){{0,3}}{_DRUGS}",
        r"(?:cheat|rig|manipulat)\w* (?:on )?(?:a |an |the )?(?:\w+ )?(?:test|exam|election|voting|slot|casino|"
        r"lottery|gambling|stock|market)\w*", r"insider trading", r"sell\w* (?:harvested )?organs",
        r"(?:obtain|get|prescrib)\w* (?:\w+ )?(?:opioids|oxycontin|vicodin|adderall)", r"chop shops?",
        r"(?:steal|stealing|steals|stole) (?:[\w'-]+ ){0,3}(?:money|cars?|vehicles?|identit\w+|data|information|"
        r"records|credit|cards?|passwords?|credentials|goods|jewel\w*|cash|packages?|items|"
        r"merchandise|property|catalytic|bikes?|phones?|wallets?|purses?|electricity|secrets|intellectual property|"
        r"files|accounts?|health records)", r"stolen (?:goods|credit|cards?|data|property|cars?|identit\w+)",
        r"(?:fool|beat|trick|pass)\w* (?:a |the )?breathaly[sz]er", r"non-?consensual",
        r"(?:disabl|remov|tamper\w* with|bypass|defeat)\w* (?:\w+ ){0,3}(?:gps tracker|ankle monitor|"
        r"monitoring devices?|alarm system|security cameras?|emissions?|catalytic converter|smog test)",
        rf"{_STREET}", r"illegally (?:\w+ )?(?:disrupt|obtain|purchas|buy|acquir|access|enter|cross|import|sell|"
        r"dump|hunt|download|distribut|record)\w*", r"hold\w* (?:a |an |the )?(?:\w+ ){0,2}hostage",
        r"tamper\w* with (?:\w+ ){0,4}(?:medical devices?|pacemakers?|insulin pumps?|brakes?|food|medication|"
        r"evidence|voting machines?|meters?)", r"huff\w* (?:paint|glue|gas\w*|aerosols?|nitrous)",
        r"(?:convinc|persuad|encourag|pressur)\w* (?:\w+ ){0,3}to (?:start using|try|use|take) (?:\w+ )?drugs",
        r"silenc\w+ (?:\w+ )?whistleblowers", r"commit (?:a )?(?:crimes?|fraud|arson|burglary|robbery)",
    ),
    "fraud": (
        r"money mules?", r"wire fraud", r"pump and dump", r"market manipulation", r"price fixing", r"scam\w*",
        r"fraud\w*", r"ponzi", r"pyramid scheme", r"419", r"identity theft", r"con artist", r"fake (?:profiles?|"
        r"websites?|charit\w+|invoices?|credentials|degrees?|diplomas?|certificates?|reviews?|login)",
        r"(?:fake|fabricated|false) (?:customer )?(?:reviews|testimonials|charity|invoices?|accounts?)",
        r"fake (?:\w+ ){0,3}(?:drugs?|medicines?|pills?|products?|cures?|supplements?)",
    ),
    "misinformation": (
        r"smear campaign", r"(?:false|fake|fabricated|misleading) (?:information|claims?|statistics|evidence|"
        r"stor(?:y|ies)|narratives?|articles?|reports?|news)", r"defamat\w+", r"libel\w*", r"holocaust denial",
        r"spread(?:ing)? (?:misinformation|disinformation|lies|rumou?rs|propaganda|fake news|conspirac\w+)",
        r"(?:discourag|persuad|convinc)\w+ (?:\w+ )?(?:from )?(?:wearing masks|getting vaccinated|vaccinat\w+)",
        r"vaccines? (?:\w+ ){0,2}(?:causes?|caused|lead to|leads to|led to) (?:autism|infertility|cancer|death|"
        r"sterility)", r"vaccines? (?:\w+ ){0,2}(?:contains? microchips|kill (?:people|children|more))",
        r"(?:drink|drinking|ingest\w*|swallow\w*|feed\w*|inject\w*) (?:\w+ ){0,3}(?:bleach|antifreeze|lye|"
        r"drain cleaner|chlorine dioxide|turpentine)",
    ),
    "harassment": (
        rf"(?:write|writ|creat|draft|compos|generat|mak|tell|design|post)\w* (?:me |us )?(?:a |an |some |the |\d+ )?"
        rf"(?:\w+ )?(?:racist|sexist|"
        rf"homophobic|transphobic|xenophobic|misogynist\w*|anti-?semitic|hateful|derogatory|demeaning|insulting|"
        rf"offensive|threatening|harassing|defamatory|bullying|degrading|humiliating|dehumani[sz]ing) (?:\w+ ){{0,2}}"
        rf"{_MEDIA}", r"harass\w*", r"cyberbull\w+", rf"bull(?:y|ies|ying|ied) (?:\w+ ){{0,2}}{_PERSON}",
        r"body[- ]sham\w+", r"dehumani[sz]\w+", r"hate speech", r"(?:inciting|incite|stir up) hatred",
        r"threat(?:en|ening)? (?:\w+ )?(?:message|letter|note|email|to)", r"intimidat\w+", r"doxx?\w*",
        r"stalk(?:s|ed|ing|er)?\b", r"revenge porn", r"groom\w* (?:a |children|minors|kids|teens)",
        r"(?:should|must|ought to) (?:not|never) (?:be )?(?:allowed|admitted|permitted|given|have) (?:\w+ ){0,2}"
        r"(?:equal rights|to vote|citizenship|higher education|benefits)", r"(?:deny|denying|strip\w*|revok\w*) "
        r"(?:\w+ ){0,3}(?:equal|civil|human) rights", r"(?:insult|mock|shame)\w* (?:a |an |the |my |people|someone|"
        r"\w+ (?:people|colleague|classmate|coworker))", rf"(?:ruin|destroy)\w* {_OWNER} (?:\w+ )?(?:life|lives|"
        r"reputation|career|marriage|business)",
    ),
    "self_harm": (
        r"self[- ]injur\w*", r"thinspo\w*", r"extreme (?:diet\w*|fasting|weight loss)",
        r"(?:stop|stopping|quit\w*) (?:taking )?(?:my |your |their )?(?:medication|meds|insulin)",
        r"suicid\w*", r"self[- ]harm\w*", r"kill (?:myself|yourself|themselves|himself|herself)",
        r"end(?:ing)? (?:my|your|their|his|her) (?:own )?li(?:fe|ves)", r"anorexi\w+", r"bulimi\w+", r"pro[- ]ana",
        r"(?:cut|cutting|burn|burning|slit\w*|hurt\w*|harm\w*|injur\w*|starv\w*|punish\w*) (?:\w+ )?(?:myself|"
        r"yourself)", r"(?:cut|carv\w*|slash|slit)(?:ting)? (?:into )?(?:my|your) (?:own )?(?:arms?|wrists?|skin|"
        r"legs?|thighs?|veins?)", r"carv\w* (?:\w+ ){0,3}into (?:my|your) (?:own )?(?:arms?|wrists?|skin|legs?|"
        r"thighs?)", r"pierc\w* (?:my|your) (?:own )?(?:artery|arteries|veins?)",
        r"overdos\w+", r"(?:take|do|eat|drink|swallow) (?:\w+ ){0,3}to die\b", r"painless(?:ly)? "
        r"(?:way|death|method|suicide)", r"end it all",
    ),
    "sexual": (
        r"pornograph\w*", r"porn", r"graphic sex", r"pedophil\w+", r"paedophil\w+", r"child (?:sexual|pornograph\w*|"
        r"abuse)", r"bestiality", r"sexual (?:exploitation|abuse|favou?rs?)", r"escort services?",
        r"(?:sex|sexual|intimate|nude|naked|explicit) (?:\w+ )?(?:with|of|involving) (?:a |an )?(?:minors?|child\w*|"
        r"underage|teens?|students?|animals?)",
    ),
    "privacy": (
        r"someone's (?:email|account|phone|password|location|messages)",
        r"secretly (?:record|film|photograph|track|monitor)\w*", r"spy(?:ing)? on",
        r"track (?:someone|a person|my (?:wife|husband|partner|ex|girlfriend|boyfriend)|their) ",
        r"surveil\w+ (?:\w+ )?(?:someone|a person|employees|partner)",
        r"without (?:their|the owner's|his|her|the person's) (?:consent|knowledge|permission)",
        rf"(?:{_OWNER}|someone's|somebody's|a person's|(?:my|a|the) (?:ex[- ])?(?:\w+ )?(?:girlfriend|boyfriend|"
        r"therapist|babysitter|gardener|landlord|tenant|employee|employer|roommate|crush|nanny|maid|servant|rival|"
        r"doctor|mother|father|mom|dad|sister|brother|friend|probation officer)'s) (?:[a-z-]+ ){0,2}"
        r"(?:password|pin|passcode|home address|private email|email address|phone number|criminal (?:history|"
        r"record)|medical (?:history|records)|tax records|salary|immigration status|social "
        r"security|driver'?s license|bank (?:account|details)|credit card)",
    ),
    # Not a topic but the tell of a harmful ask in any topic: the request wants it hidden.
    "evasion": (
        r"(?:hide|hiding|conceal\w*|dispos\w+ of|get rid of) (?:\w+ ){0,2}(?:evidence|body|bodies|weapons?)",
        r"fake (?:an? )?alibi", r"avoid (?:getting )?caught", r"(?:not|never) get caught",
        r"without (?:getting |being )?(?:caught|detected|noticed|traced|tracked|alerting)",
        r"(?:avoid|evad|escap)\w* (?:\w+ )?(?:detection|being caught|the police|law enforcement|authorities)",
        r"(?:not|never) (?:be )?traced? back", r"leav\w+ no (?:trace|evidence)",
        r"cover (?:up )?(?:my|your|their|the) tracks",
    ),
}

# Words that name a harm only inside a jailbreak's frame: each has an everyday sense or a reader
# who studies it ("what is fraud?", "a bath bomb", "stealing the show", "racism in history"). With
# role-play, fiction or a pre-empted refusal they count; a plain request needs a REQUEST_HARM phrase.
REQUEST_HINTS: dict[str, tuple[str, ...]] = {
    "cybercrime": (
        r"hack(?:s|ed|ing|er|ers)?", r"trojan", r"backdoor", r"zero[- ]day", r"brute[- ]forc\w*", r"(?:computer )?"
        r"worms?", r"mine cryptocurrenc\w+", r"obfuscat\w+ (?:\w+ )?(?:code|malware|payload)", r"skimmers?",
        r"(?:click|clicking) on (?:a|the|this) link", r"scrap\w+ (?:\w+ )?(?:email addresses|personal data|"
        r"profiles|posts|videos)", r"exploits?", r"(?:escalat|elevat)\w* (?:\w+ )?privileges",
    ),
    "weapons_cbrn": (
        r"(?:buy|acquir|obtain)\w* (?:\w+ ){0,2}(?:guns?|firearms?|rifles?|handguns?|weapons?|ammunition)",
        r"radioactive", r"smallpox", r"ebola", r"plague", r"toxins?", r"lsd", r"mdma", r"ghb", r"bombs?",
        r"pathogens?", r"(?:make|making|manufactur\w+|produc\w+) (?:\w+ ){0,3}at home", r"without a license",
        r"dangerous (?:dna|sequences|chemicals|pathogens)",
    ),
    "violence": (
        r"assault\w*", r"strangl\w+", r"robbery", r"terror\w*", r"extremis[tm]\w*", r"radicali[sz]\w+", r"jihad\w*",
        r"militia", r"insurrection", r"overthrow\w*", r"war crimes?", r"genocide", r"massacre", r"subjugat\w+",
        r"hostages?", r"incit\w+", r"isis", r"cannibal\w*", rf"(?:{_ROUGH})(?:s|ed|ing)? (?:{_ARTICLE} )?(?:{_W} )?"
        rf"{_PERSON}", rf"(?:{_VIOLENT}|{_ROUGH})(?:s|ed|ing)? {_PRONOUN}", r"beat (?:up|someone)",
    ),
    "crime": (
        r"cartels?", r"pimp\w*", r"prostitut\w+", r"sabotag\w+", r"vandali[sz]\w+", r"riot\w*", r"loot\w*",
        r"hijack\w*", r"ransom\w*", r"pira(?:cy|ted)", r"plagiari[sz]\w+", r"deepfakes?", r"brib\w+", r"illegal(?:ly)?",
        r"illicit", r"tamper\w* with", r"poach\w+", r"stolen", r"steal(?:s|ing)?", r"dark web", r"huff\w*",
        r"without (?:authori[sz]ation|a warrant|permission)", r"(?:exploit|abus)\w* (?:\w+ )?loopholes?",
        r"tax loopholes?", r"without (?:a )?(?:prescription|license|licence|medical supervision)", r"loan sharks?",
        r"predatory (?:lending|loans)", r"gambl\w+ (?:addiction|system|strateg\w+|tips)", r"(?:start|try) "
        r"(?:using )?drugs", r"treason", r"nefarious\w*", rf"(?:buy|get|getting|find|score)\w* (?:\w+ ){{0,3}}{_DRUGS}",
    ),
    "fraud": (
        r"spoof\w*", r"phony", r"bogus", r"swindl\w+", r"fleec\w+", r"dupe\w*", r"impersonat\w+",
        r"trick\w* (?:\w+ )?into", r"deceiv\w+", r"decept\w+", r"catfish\w*",
    ),
    "misinformation": (
        r"rumou?rs", r"pseudoscien\w+", r"flat earth", r"chemtrails", r"qanon", r"(?:rigged|stolen) election",
        r"anti-?vax\w*", r"climate (?:change )?(?:denial|hoax)", r"miracle cures?", r"cures? (?:cancer|covid|autism|"
        r"diabetes)", r"hoax", r"conspiracy", r"disinformation", r"misinformation", r"propaganda", r"defam\w+",
        r"(?:convince|persuade)\w* (?:\w+ )?(?:people|the public|readers|voters|others|everyone) (?:that|to)",
        r"(?:article|post|thread|blog|essay|tweet)s? (?:\w+ )?(?:claiming|suggesting|arguing|proving|that claims|"
        r"posing as)", r"never happened", r"cause[sd]? autism", r"(?:election|voter) fraud", r"(?:is|was) a lie\b",
        r"lied", r"persuasive (?:[\w-]+ ){0,3}(?:article|post|essay|reply|email|message|tweet|speech)",
        r"(?:was|were) paid to", r"(?:do not|don't|doesn't|does not) cause cancer", r"fake news",
        r"(?:persuad|convinc|encourag)\w* (?:\w+ ){0,3}(?:parents|people|readers|users|teens|children|kids|the public|"
        r"voters|someone|others|viewers|followers) (?:to|that)\b", r"secretly (?:\w+ )?(?:joined|biased|involved|"
        r"funded|controlled|planned)", r"(?:involved|participated) in (?:criminal|illegal)",
    ),
    "harassment": (
        r"nazi\w*", r"white supremac\w+", r"racial (?:slurs?|purity|superiority)", r"supremac\w+", r"bigot\w*",
        r"stereotyp\w+", r"derogatory", r"degrading", r"belittl\w+", r"troll\w*", r"gaslight\w*", r"coerc\w+",
        r"predators?", r"hatred", r"hate (?:groups?|campaigns?|mail)", r"vilif\w+", r"scapegoat\w*", r"segregat\w+",
        r"eugenic\w*", r"ableis[tm]\w*", r"bull(?:y|ies|ying|ied)", r"ridicul\w+", r"demean\w*", r"humiliat\w+",
        r"sexis[tm]\w*", r"racis[tm]\w*", r"xenophob\w+", r"homophob\w+", r"transphob\w+", r"misogyn\w+",
        r"discriminat\w+", r"slurs?", r"hateful", r"inferior", r"superior to others", r"anti-?semit\w+",
        r"offensive (?:joke|response|message|post|comment)s?", r"manipulat\w+ (?:\w+ )?(?:into|techniques|tactics)",
        r"less capable", r"stalk\w*",
    ),
    "self_harm": (r"purg(?:e|ing)", r"dangerous (?:diet|challenge|stunt)s?", r"eating disorders?",
                  r"cut(?:ting)? (?:myself|yourself)", r"starv\w+ (?:myself|yourself)"),
    "sexual": (
        r"sexual\w*", r"seduc\w+", r"genital\w*", r"nsfw", r"lewd", r"fetish\w*", r"underage", r"sext\w*",
        r"obscen\w+", r"(?:sexually )?explicit", r"erotic\w*", r"sex with", r"nudes?", r"minors?",
        r"intimate (?:relations|images|photos) (?:with|of)",
    ),
    "privacy": (
        r"(?:home )?address(?:es)? of", r"phone numbers? of", r"personal (?:information|data|details)",
        r"medical records", r"private messages", r"(?:read|access|hack)\w* (?:\w+ ){0,2}(?:emails|messages|texts|"
        r"accounts?)", r"hidden cameras?", r"spy\w*", r"track\w* (?:someone|a person|people|my|their|his|her)\b",
        r"social security numbers?", r"(?:personal|private|confidential|sensitive) (?:information|data|details|"
        r"records) (?:of|from|about)", r"facial recognition", r"location of (?:a|my|their) ",
    ),
    "evasion": (r"get(?:ting)? away with", r"under the radar", r"off the books", r"burner phones?", r"undetect\w*"),
}
