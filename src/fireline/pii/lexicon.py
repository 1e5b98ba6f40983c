"""Small hand-written word lists of general knowledge (no corpus was read to make them).

Large lists (given names, surnames, places, English word frequencies) come from registry
packages through src/fireline/pii/data/gazetteer.txt.gz; these are the closed classes.
"""

from __future__ import annotations


def words(text: str) -> frozenset[str]:
    """The whitespace-separated words of a literal, as a set."""
    return frozenset(text.split())

# Honorifics that stand before a name (lower case, without the final dot).
TITLES = words("""
mr mrs ms miss mx dr prof sir dame lady lord rev fr sr sra srta mme mlle m messrs herr frau hr
dott dottssa ing mag monsieur madame mademoiselle señor señora señorita signor signora sig
senhor senhora sheikh sheikha
""")

# Nationalities, demonyms, religions and political groups (Presidio's NRP), singular forms;
# plurals are recognised by an added "s"/"es" at lookup.
NRP = words("""
afghan albanian algerian american andorran angolan argentine argentinian armenian australian
austrian azerbaijani azeri bahamian bahraini bangladeshi barbadian belarusian belgian belizean belizian
beninese bhutanese bolivian bosnian botswanan brazilian british briton bruneian bulgarian burkinabe
burmese burundian cambodian cameroonian canadian chadian chilean chinese colombian congolese
croatian cuban cypriot czech danish dane djiboutian dominican dutch ecuadorian egyptian
emirati english eritrean estonian ethiopian fijian filipino finnish finn french gabonese gambian
georgian german ghanaian greek grenadian guatemalan guinean guyanese haitian honduran hungarian
icelandic indian indonesian iranian iraqi irish israeli italian ivorian jamaican japanese jordanian
kazakh kenyan korean kosovar kuwaiti kyrgyz lao laotian latvian lebanese liberian libyan
liechtensteiner lithuanian luxembourgish luxembourger macedonian malagasy malawian malaysian maldivian
malian maltese mauritanian mauritian mexican moldovan monegasque mongolian montenegrin moroccan
mozambican namibian nepalese nepali nicaraguan nigerian nigerien norwegian omani pakistani palestinian
panamanian paraguayan persian peruvian polish portuguese qatari romanian russian rwandan salvadoran
samoan saudi scottish senegalese serbian seychellois singaporean slovak slovakian slovenian somali
spanish lankan sudanese surinamese swazi swedish swiss syrian taiwanese tajik
tanzanian thai togolese tongan trinidadian tunisian turkish turkmen ugandan ukrainian uruguayan
uzbek venezuelan vietnamese welsh yemeni zambian zimbabwean
greenlander greenlandic faroese basque catalan flemish walloon kurdish kurdistani tamil punjabi
sikh hindu muslim moslem christian catholic protestant lutheran methodist baptist anglican
evangelical orthodox jewish jew buddhist mormon sunni shia shiite shii atheist agnostic
democrat republican socialist communist conservative liberal labourite tory libertarian
latino latina latinx hispanic asian african european arab arabic caucasian
""")

# Legal forms that end an organisation's name whatever precedes them.
LEGAL_FORMS = words("""
inc inc. incorporated llc l.l.c. ltd ltd. limited plc corp corp. corporation co co.
gmbh ag kg ohg sa s.a. sas sarl srl s.r.l. spa s.p.a. bv b.v. nv n.v. ab oy oyj a/s asa aps
pty llp lp
""")
# Sector words that end an organisation's name after a word that is not plain English.
ORG_WORDS = words("""
company group holdings holding associates partners consulting solutions technologies
systems industries enterprises ventures capital bank insurance foundation institute university
college labs laboratories studios media networks services international agency
""")
ORG_SUFFIXES = LEGAL_FORMS | ORG_WORDS

# Street types, in English and the large European languages, as separate words.
STREET_WORDS = words("""
street st st. road rd rd. avenue ave ave. av av. boulevard blvd blvd. lane ln ln. drive dr dr.
court ct ct. place pl pl. square sq terrace way parkway pkwy highway hwy circle cir crescent
close grove gardens row mews walk alley trail loop path plaza pike heights hill park
rue allée chemin impasse quai cours voie route
via viale piazza vicolo corso largo calle avenida paseo plaza carrera camino carretera
rua travessa praça estrada alameda largo
straße strasse str. weg gasse platz allee ring damm ufer
ul. ulica aleja al. os. plac utca út tér körút
""")

# Endings of one-word street names in Germanic, Nordic, Baltic, Finnish and Slavic languages.
STREET_ENDINGS = (
    "straße", "strasse", "str.", "weg", "gasse", "platz", "allee", "ring", "damm", "ufer", "steig",
    "straat", "laan", "plein", "gracht", "kade", "dijk", "singel", "hof",
    "vej", "gade", "stræde", "gatan", "vägen", "väg", "gata", "gränd", "torg", "veien", "vegen",
    "gata", "gaten", "stien", "tie", "katu", "kuja", "polku", "kaari", "rinne",
    "iela", "gatve", "tänav", "utca", "ulica", "ulice", "třída", "náměstí", "cesta",
)

# Unit designators that follow a street line.
UNIT_WORDS = words("apt apt. apartment suite ste ste. unit flat floor fl fl. room rm box bldg building")

MONTHS = words("""
january february march april may june july august september october november december
jan feb mar apr jun jul aug sep sept oct nov dec
""")
WEEKDAYS = words("monday tuesday wednesday thursday friday saturday sunday")

# Capitalised words that never start a name, however a gazetteer lists them.
STOP_CAPS = words("""
i i'm i've i'll i'd the a an and or but if so as at by for from in into of on to with without
this that these those there here then than what which who whom whose when where why how
my your his her its our their me you he she it we they him us them mine yours
is are was were be been being do does did have has had will would can could shall should may might must
not no yes ok okay hi hello hey dear thanks thank please sorry regards best cheers
new old good great happy merry
monday tuesday wednesday thursday friday saturday sunday
january february march april june july august september october november december
""")
