"""Default harmful-content lexicon for harmful_output, by category.

A term is a lowercase word or phrase matched on word boundaries; a trailing "*" allows any
word ending ("bomb*" matches "bombs", "bombing"). Teams replace or extend any category in
`detectors.harmful_output.lexicon`. The hate and harassment lists hold slurs and insults on
purpose: a filter cannot find words it does not know. They are deliberately short; a team with
a real moderation need brings its own list or a classifier.
"""

from __future__ import annotations

DEFAULT_LEXICON: dict[str, tuple[str, ...]] = {
    "violence": (
        "kill you", "kill them", "kill him", "kill her", "murder*", "slaughter*", "behead*", "massacre*",
        "shoot them", "shoot him", "stab*", "torture*", "lynch*", "assassinat*", "mass shooting",
        "beat you", "beat him", "beat her", "strangl*", "genocide",
    ),
    "hate": (
        "nigger*", "nigga*", "faggot*", "fag", "fags", "dyke*", "tranny", "trannies", "retard*", "kike*",
        "spic", "spics", "chink*", "wetback*", "coon", "coons", "towelhead*", "sand nigger*", "raghead*",
        "gook*", "beaner*", "white trash", "subhuman*", "inferior race", "race traitor*", "go back to your country",
        "gas the", "ethnic cleansing", "queer*", "homo", "homos", "cracker*", "redneck*",
    ),
    "harassment": (
        "bitch*", "hoe", "hoes", "whore*", "slut*", "cunt*", "pussy", "pussies", "motherfucker*", "fuck you",
        "fuck off", "asshole*", "dumbass*", "piece of shit", "kill yourself", "kys", "worthless", "loser*",
    ),
    "self_harm": (
        "kill myself", "killing myself", "suicide method*", "how to commit suicide", "end my life",
        "cut myself", "cutting myself", "self-harm", "self harm", "overdose on", "hang myself",
        "lethal dose",
    ),
    "sexual": (
        "explicit sex*", "porn*", "nude*", "naked", "orgasm*", "erotic*", "sexual intercourse", "blowjob*",
        "genitals", "penis", "vagina", "child sexual", "underage sex*", "sexual content", "seduc*",
    ),
    "weapons_cbrn": (
        "bomb*", "explosive*", "detonat*", "pipe bomb", "nerve agent*", "sarin", "anthrax", "ricin",
        "bioweapon*", "chemical weapon*", "nuclear weapon*", "dirty bomb", "enriched uranium", "ammonium nitrate",
        "untraceable gun", "ghost gun", "3d-printed gun", "napalm", "molotov", "thermite",
    ),
    "crime": (
        "phishing", "ransomware", "keylogger*", "malware", "spyware", "botnet*", "ddos", "exploit the vulnerab*",
        "sql injection", "launder*", "counterfeit*", "tax evasion", "evade taxes", "insider trading",
        "bribe*", "briber*", "extort*", "blackmail*", "smuggl*", "shoplift*", "identity theft", "steal*",
        "credit card fraud", "fraudulent", "scam*", "ponzi", "pyramid scheme", "hack into", "hacking into",
        "crack password*", "stalk*", "doxx*", "track someone", "without their consent", "without their knowledge",
        "fake news", "disinformation", "propaganda", "fabricated", "meth", "methamphetamine", "cocaine",
        "heroin", "fentanyl", "illegal drug*", "human trafficking", "sex trafficking", "child labor",
        "predatory", "gambling", "payday loan*", "forge*", "forgery", "plagiari*", "cheat on",
    ),
}  # fmt: skip
