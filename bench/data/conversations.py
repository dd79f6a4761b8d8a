"""A seeded generator of long multi-session chat histories with known evidence turns.

Each simulated user chats with an assistant over many sessions. A few turns
state facts (a pet's name, a relative's new city, a rare instrument, a date, a
flat number, ...); the rest is small talk, near-miss facts of the same kind
about other people, and the same names in unrelated contexts. Questions are
asked about the facts, worded differently from the evidence: some keep the
distinctive word (a name, a rare noun, a month), some only paraphrase it, and
a few need two turns from different sessions. Every question names its
evidence turns, so recall can be measured exactly.

Written from scratch for threadloom's retrieval benchmark (MIT, like the rest
of the repository); nothing is downloaded. ``generate(seed=...)`` always
returns the same data for the same arguments.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

__all__ = ["Question", "Turn", "generate"]


@dataclass(frozen=True)
class Turn:
    """One chat turn stored as one memory."""

    user: str
    turn_id: str
    session: int
    speaker: str
    text: str


@dataclass(frozen=True)
class Question:
    """A question and the turns that answer it."""

    user: str
    text: str
    evidence: tuple[str, ...]
    kind: str
    mentions_keyword: bool = field(default=False)


FIRST_NAMES = [
    "Xiomara",
    "Odalys",
    "Bram",
    "Priya",
    "Tobiah",
    "Ingrid",
    "Sunniva",
    "Kwame",
    "Anouk",
    "Leopold",
    "Marisol",
    "Thaddeus",
    "Oona",
    "Ravindra",
    "Zofia",
    "Casimir",
    "Henrike",
    "Ayodele",
    "Mirela",
    "Lachlan",
    "Solveig",
    "Ignatius",
    "Fenna",
    "Dagny",
    "Emeric",
    "Yusra",
    "Perpetua",
    "Osvaldo",
    "Greta",
    "Teodor",
    "Ximena",
    "Barnaby",
    "Ilse",
    "Matteo",
    "Saoirse",
    "Fintan",
    "Noor",
    "Cosima",
    "Radomir",
    "Esperanza",
    "Wendell",
    "Auberon",
    "Giedre",
    "Hallvard",
    "Nkechi",
    "Rosalind",
    "Tiberius",
    "Yara",
    "Percival",
    "Ludmila",
    "Amadou",
    "Brunhilde",
    "Ottoline",
    "Severin",
    "Jolanda",
    "Ruairi",
    "Marguerite",
    "Eleanor",
    "Ambrose",
    "Svetlana",
    "Horatio",
    "Wilhelmina",
    "Kasimir",
    "Annika",
    "Benedikt",
    "Clementine",
    "Desmond",
    "Florentyna",
    "Gaspard",
]

RELATIONS = [
    "sister",
    "brother",
    "cousin",
    "aunt",
    "uncle",
    "niece",
    "nephew",
    "colleague",
    "flatmate",
    "godmother",
]

CITIES = [
    "Tromso",
    "Ghent",
    "Valparaiso",
    "Ljubljana",
    "Trieste",
    "Bergen",
    "Porto",
    "Cluj",
    "Tbilisi",
    "Oaxaca",
    "Hobart",
    "Kyoto",
    "Tallinn",
    "Salzburg",
    "Cordoba",
    "Marrakesh",
    "Galway",
    "Lausanne",
    "Bologna",
    "Krakow",
    "Zanzibar",
    "Reykjavik",
    "Windhoek",
    "Cuenca",
    "Nantes",
    "Aarhus",
    "Brno",
    "Plovdiv",
    "Tartu",
    "Matera",
    "Izmir",
    "Chiang-Mai",
    "Ushuaia",
    "Quito",
    "Perth",
    "Halifax",
    "Dunedin",
    "Arequipa",
    "Lviv",
    "Vilnius",
    "Riga",
    "Seville",
    "Granada",
    "Coimbra",
    "Bruges",
    "Leuven",
    "Utrecht",
]

ANIMALS = [
    "puppy",
    "kitten",
    "parrot",
    "rabbit",
    "tortoise",
    "ferret",
    "hamster",
    "cockatiel",
    "beagle",
    "greyhound",
]
PET_NAMES = [
    "Biscuit",
    "Pickle",
    "Mochi",
    "Waffles",
    "Pretzel",
    "Nimbus",
    "Tofu",
    "Juniper",
    "Ziggy",
    "Marzipan",
    "Paprika",
    "Noodle",
    "Clementine",
    "Wasabi",
    "Gnocchi",
    "Pumpernickel",
    "Bramble",
    "Taffy",
    "Fennel",
    "Quokka",
    "Sprocket",
    "Dumpling",
]

INSTRUMENTS = [
    "theremin",
    "bouzouki",
    "hurdy-gurdy",
    "oud",
    "sitar",
    "dulcimer",
    "bandoneon",
    "didgeridoo",
    "harpsichord",
    "balalaika",
    "kalimba",
    "mandolin",
    "ukulele",
    "cello",
    "accordion",
    "banjo",
    "bagpipes",
    "euphonium",
]

FOODS = [
    "shellfish",
    "sesame",
    "peanuts",
    "kiwi",
    "buckwheat",
    "lupin",
    "celery",
    "mustard",
    "hazelnuts",
    "mango",
]

JOBS = [
    "cartographer",
    "sommelier",
    "actuary",
    "glassblower",
    "archivist",
    "luthier",
    "hydrologist",
    "patent-attorney",
    "zookeeper",
    "typographer",
]
COMPANIES = [
    "Quillfield",
    "Brightmoor",
    "Veltrano",
    "Harrowgate",
    "Zephyrine",
    "Oakhaven",
    "Lumetra",
    "Corvex",
    "Stellwood",
    "Marrowby",
    "Tinderbox",
    "Wrenfield",
]

BOOKS = [
    ("The Salt Orchard", "Imelda Rusk"),
    ("Lanterns of Ketterby", "Joaquim Vell"),
    ("A Grammar of Tides", "Nadia Oyelaran"),
    ("The Ninth Lighthouse", "Bertil Fahlstrom"),
    ("Copper Moths", "Ysolde Marchetti"),
    ("The Quiet Cartographer", "Hamish Orrell"),
    ("Winter at Ostrava", "Petra Kozakova"),
    ("Small Gods of Paper", "Teju Adebayo"),
]

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
SPORTS = [
    "fencing",
    "curling",
    "bouldering",
    "rowing",
    "archery",
    "squash",
    "badminton",
    "orienteering",
]
DISHES = [
    "moussaka",
    "pierogi",
    "bibimbap",
    "cassoulet",
    "shakshuka",
    "goulash",
    "risotto",
    "paella",
    "tagine",
    "gumbo",
    "laksa",
    "borscht",
]
PLANTS = [
    "fig tree",
    "lavender bush",
    "lemon tree",
    "olive sapling",
    "bonsai juniper",
    "rosemary hedge",
]
SUBJECTS = [
    "astronomy",
    "bookbinding",
    "Portuguese",
    "woodworking",
    "calligraphy",
    "beekeeping",
    "cryptography",
    "ceramics",
    "Icelandic",
    "stenography",
]
COLORS = ["red", "blue", "green", "silver", "black", "white", "yellow", "maroon", "teal"]
CARS = [
    "Volvo estate",
    "Skoda hatchback",
    "Fiat Panda",
    "Honda Jazz",
    "Toyota Prius",
    "Mazda roadster",
]
RESTAURANTS = """Casa Limon,The Gilded Pear,Osteria Nove,Bistro Albatross,Kitchen Seventeen,
The Copper Kettle,Umami Garden""".replace("\n", "").split(",")
STREETS = ["Elm", "Birchwood", "Harbour", "Mill", "Chestnut", "Foundry", "Orchard", "Wharf"]

# Small talk: topic words overlap with the facts on purpose (pets, travel, music,
# food, work, books) so meaning alone cannot pick the evidence out.
SMALL_TALK = [
    "I love listening to music while I cook dinner.",
    "The weather has been so grey lately, I miss the sun.",
    "Work was exhausting this week, too many meetings.",
    "I keep meaning to read more books but I never find the time.",
    "We watched a documentary about {animal}s last night.",
    "I've been thinking about travelling somewhere warm next year.",
    "My back hurts from sitting at the desk all day.",
    "I tried a new coffee place near the station, it was fine.",
    "Do you think I should learn another language?",
    "The neighbours were playing loud music again until midnight.",
    "I need to clean the kitchen, it's a mess.",
    "I'm trying to eat healthier, fewer snacks and more vegetables.",
    "Someone at the office brought cake for no reason, nice surprise.",
    "I went for a long walk by the river this morning.",
    "My phone battery dies so quickly these days.",
    "I should call my family more often.",
    "Our train was delayed by forty minutes today.",
    "I'm not sure what to cook for the weekend.",
    "I found an old photo album in the attic.",
    "The new season of that show is out, have you seen it?",
    "I want to get better at playing an instrument someday.",
    "My friends keep recommending podcasts to me.",
    "I can't decide whether to repaint the living room.",
    "Pets are a lot of work but they make everything better.",
    "I've been sleeping badly, maybe too much screen time.",
    "The supermarket was out of almost everything today.",
    "Thinking about signing up for some kind of class in the evenings.",
    "My job is fine, though I sometimes wonder about switching careers.",
    "Visiting family always takes more energy than I expect.",
    "I'm saving up for something nice but I haven't decided what.",
    "I got caught in the rain without an umbrella again.",
    "There's a food festival in town on {weekday}.",
    "{name} sent me a funny video today.",
    "I had lunch with {name}, we talked about old times.",
    "{name} called me yesterday, we chatted for an hour.",
    "I keep forgetting to reply to {name}'s messages.",
    "{name} recommended a film but I forgot the title.",
    "Back in {month} everything felt so hectic.",
    "I might go to {city} someday, it looks beautiful in photos.",
    "A colleague just came back from {city} with lots of stories.",
    "My {relation} keeps sending me recipes.",
    "I'm a bit worried about my {relation}, they seem stressed.",
]

ASSISTANT_REPLIES = [
    "That sounds lovely, tell me more.",
    "Oh nice! How did that go?",
    "I'm sorry to hear that, I hope things get better soon.",
    "That's interesting, what made you decide that?",
    "Ha, that happens to everyone.",
    "Sounds like a busy week.",
    "I'll remember that.",
    "How are you feeling about it?",
    "That must have been fun.",
    "Good luck with that!",
    "What a nice thing to look forward to.",
    "Do you want me to remind you about it later?",
    "That's a great idea.",
    "Really? I didn't know that.",
]


class _Fact:
    """One fact: its evidence sentences, its questions and its near-miss distractors."""

    def __init__(
        self,
        kind: str,
        evidence: list[str],
        questions: list[tuple[str, bool]],
        distractors: list[str],
    ) -> None:
        self.kind = kind
        self.evidence = evidence
        self.questions = questions
        self.distractors = distractors


def _facts(rng: random.Random) -> list[_Fact]:
    """Every fact kind once, with entities drawn at random for this user."""
    name = rng.choice
    facts: list[_Fact] = []

    animal, pet, other_pet = name(ANIMALS), *rng.sample(PET_NAMES, 2)
    facts.append(
        _Fact(
            "pet",
            [
                rng.choice(
                    [
                        f"We adopted a {animal} in {name(MONTHS)} and called him {pet}.",
                        f"Our new {animal} {pet} has been chewing on all the furniture.",
                    ]
                )
            ],
            [
                (f"What name did we give the {animal} we adopted?", False),
                ("What is my pet called?", False),
                (f"What did {pet} chew on?", True),
            ],
            [
                f"My neighbour's {name(ANIMALS)} is called {other_pet}.",
                f"We almost named the {animal} {rng.choice(PET_NAMES)} instead.",
            ],
        )
    )

    relation, person, other, city, other_city = (
        name(RELATIONS),
        *rng.sample(FIRST_NAMES, 2),
        *rng.sample(CITIES, 2),
    )
    facts.append(
        _Fact(
            "relocation",
            [f"My {relation} {person} just moved to {city} for a new job."],
            [
                (f"Which city does my {relation} live in now?", False),
                (f"Where did {person} relocate to?", True),
            ],
            [
                f"My friend {other} moved to {other_city} last year.",
                f"{person} was complaining about the rent prices.",
                f"{person} might visit us at Christmas.",
            ],
        )
    )

    instrument = name(INSTRUMENTS)
    facts.append(
        _Fact(
            "instrument",
            [
                rng.choice(
                    [
                        f"I've started taking {instrument} lessons, it's harder than it looks.",
                        f"I finally bought a second-hand {instrument} and I practise every evening.",
                    ]
                )
            ],
            [
                ("Which musical instrument did I take up?", False),
                (f"How often do I practise the {instrument}?", True),
            ],
            [
                f"My {name(RELATIONS)} plays the {name(INSTRUMENTS)} in a band.",
                "I went to a concert last week, the band was great.",
            ],
        )
    )

    day, month, restaurant = rng.randint(1, 28), name(MONTHS), name(RESTAURANTS)
    facts.append(
        _Fact(
            "date",
            [f"Our anniversary dinner is on {month} {day}, I booked a table at {restaurant}."],
            [
                ("When is our anniversary dinner?", False),
                (f"Which restaurant did I reserve for {month} {day}?", True),
            ],
            [
                f"We had a nice meal at {name(RESTAURANTS)} with friends.",
                f"My dentist appointment got moved to {name(MONTHS)} {rng.randint(1, 28)}.",
            ],
        )
    )

    food, other_food = rng.sample(FOODS, 2)
    facts.append(
        _Fact(
            "allergy",
            [f"The doctor confirmed I'm allergic to {food}, so no more of that."],
            [("What food intolerance did the doctor find?", False)],
            [
                f"My {name(RELATIONS)} can't eat {other_food}.",
                f"I bought some {food} for the party guests.",
            ],
        )
    )

    job, company, other_company = name(JOBS), *rng.sample(COMPANIES, 2)
    facts.append(
        _Fact(
            "job",
            [f"I accepted the offer to work as a {job} at {company}!"],
            [
                ("What's my new position at work?", False),
                (f"Which employer hired me as a {job}?", True),
            ],
            [
                f"I had an interview at {other_company} but they never called back.",
                f"{company} was in the news this morning.",
            ],
        )
    )

    (title, author), (other_title, other_author) = rng.sample(BOOKS, 2)
    facts.append(
        _Fact(
            "book",
            [f"I'm halfway through {title} by {author}, can't put it down."],
            [
                ("Who is the author of the novel I'm reading?", False),
                (f"Who wrote {title}?", True),
            ],
            [
                f"My book club picked {other_title} by {other_author} for next month.",
                f"I lent my copy of {title} to a friend.",
            ],
        )
    )

    trip_city, trip_month, past_city = rng.sample(CITIES, 1)[0], name(MONTHS), name(CITIES)
    facts.append(
        _Fact(
            "trip",
            [f"In {trip_month} we're flying to {trip_city} for a week."],
            [
                (f"Where am I going on holiday in {trip_month}?", True),
                ("What is the destination of my upcoming flight?", False),
            ],
            [
                f"Last summer we went to {past_city}, it rained every day.",
                f"My {name(RELATIONS)} went to {trip_city} years ago.",
            ],
        )
    )

    flat, street = rng.randint(10, 480), name(STREETS)
    facts.append(
        _Fact(
            "number",
            [f"The new flat is number {flat} on {street} Road, third floor."],
            [("What's the number of my new apartment?", False)],
            [
                f"The old place on {name(STREETS)} Road had a leaking roof.",
                f"I was on hold for {rng.randint(10, 90)} minutes with the landlord.",
            ],
        )
    )

    color, car = name(COLORS), name(CARS)
    facts.append(
        _Fact(
            "car",
            [f"I finally bought a used {color} {car}, it drives well."],
            [("What vehicle did I purchase?", False), (f"What colour is my {car}?", True)],
            [
                f"My {name(RELATIONS)} crashed their {name(CARS)} last month.",
                "Parking near the office is impossible.",
            ],
        )
    )

    friend, bday_month, bday = name(FIRST_NAMES), name(MONTHS), rng.randint(1, 28)
    facts.append(
        _Fact(
            "birthday",
            [f"{friend}'s birthday is on {bday_month} {bday}, remind me to get a gift."],
            [(f"When does {friend} celebrate turning a year older?", True)],
            [
                f"{friend} and I argued about politics again.",
                f"My {name(RELATIONS)}'s birthday party was in {name(MONTHS)}.",
            ],
        )
    )

    sport, weekday = name(SPORTS), name(WEEKDAYS)
    facts.append(
        _Fact(
            "club",
            [f"I joined a {sport} club, we meet every {weekday} evening."],
            [
                ("Which sports club did I sign up for?", False),
                (f"On which day do I go to {sport}?", True),
            ],
            [
                f"I used to play {name(SPORTS)} at school.",
                f"Every {weekday} I do the grocery shopping.",
            ],
        )
    )

    companion, city_a, city_b = name(FIRST_NAMES), *rng.sample(CITIES, 2)
    facts.append(
        _Fact(
            "multi_hop",
            [
                f"{companion} and I spent a long weekend in {city_a}.",
                f"{companion} and I took the train to {city_b} for a concert.",
            ],
            [(f"Which places have I visited together with {companion}?", True)],
            [
                f"{companion} is thinking about buying a house.",
                f"{companion} loves {name(DISHES)}.",
            ],
        )
    )

    dish = name(DISHES)
    facts.append(
        _Fact(
            "dish",
            [f"I cooked {dish} from my grandmother's recipe and it turned out perfect."],
            [("What did I make following my grandma's instructions?", False)],
            [
                f"We ordered {name(DISHES)} from the takeaway.",
                "My grandmother used to grow tomatoes.",
            ],
        )
    )

    plant, subject = name(PLANTS), name(SUBJECTS)
    facts.append(
        _Fact(
            "plant",
            [f"I bought a {plant} for the balcony, hope it survives the winter."],
            [("What greenery did I get for outside?", False)],
            [f"The {name(PLANTS)} in the office is dying.", "The balcony door is stuck again."],
        )
    )
    facts.append(
        _Fact(
            "course",
            [f"I enrolled in a night course on {subject} at the community college."],
            [
                ("What subject is my evening class about?", False),
                (f"Where am I studying {subject}?", True),
            ],
            [
                f"My {name(RELATIONS)} is doing an online course too.",
                "The community college car park is always full.",
            ],
        )
    )
    return facts


def _fill(template: str, rng: random.Random) -> str:
    return template.format(
        animal=rng.choice(ANIMALS),
        weekday=rng.choice(WEEKDAYS),
        name=rng.choice(FIRST_NAMES),
        month=rng.choice(MONTHS),
        city=rng.choice(CITIES),
        relation=rng.choice(RELATIONS),
    )


def generate(
    *,
    seed: int = 7,
    users: int = 16,
    sessions: int = 16,
    turns_per_session: int = 26,
) -> tuple[list[Turn], list[Question]]:
    """Chat turns (one memory each) and the questions about them, deterministically."""
    rng = random.Random(seed)
    all_turns: list[Turn] = []
    all_questions: list[Question] = []
    for u in range(users):
        user = f"user{u:02d}"
        facts = _facts(rng)
        # Slots: (session, position) for each evidence and distractor sentence.
        planned: dict[tuple[int, int], tuple[str, str | None]] = {}
        evidence_slots: dict[int, list[tuple[int, int]]] = {}

        def free_slot(
            planned: dict[tuple[int, int], tuple[str, str | None]] = planned,
        ) -> tuple[int, int]:
            while True:
                # Only even positions hold the user's turns; odd ones are the assistant's.
                slot = (rng.randrange(sessions), 2 * rng.randrange(turns_per_session // 2))
                if slot not in planned:
                    return slot

        for index, fact in enumerate(facts):
            for sentence in fact.evidence:
                slot = free_slot()
                planned[slot] = (sentence, f"fact{index}")
                evidence_slots.setdefault(index, []).append(slot)
            for sentence in fact.distractors:
                planned[free_slot()] = (sentence, None)

        ids: dict[tuple[int, int], str] = {}
        for session in range(sessions):
            for pos in range(turns_per_session):
                turn_id = f"{user}-s{session:02d}-t{pos:02d}"
                ids[(session, pos)] = turn_id
                if pos % 2 == 1:
                    speaker, text = "assistant", rng.choice(ASSISTANT_REPLIES)
                elif (session, pos) in planned:
                    speaker, text = "user", planned[(session, pos)][0]
                else:
                    speaker, text = "user", _fill(rng.choice(SMALL_TALK), rng)
                all_turns.append(Turn(user, turn_id, session, speaker, text))

        for index, fact in enumerate(facts):
            evidence = tuple(ids[slot] for slot in evidence_slots[index])
            for text, mentions in fact.questions:
                all_questions.append(Question(user, text, evidence, fact.kind, mentions))
    return all_turns, all_questions
