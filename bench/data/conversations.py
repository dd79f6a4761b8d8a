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

# ruff: noqa: SIM905  (word lists read better as running text)
from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

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


FIRST_NAMES = """
Xiomara Odalys Bram Priya Tobiah Ingrid Sunniva Kwame Anouk Leopold Marisol Thaddeus
Oona Ravindra Zofia Casimir Henrike Ayodele Mirela Lachlan Solveig Ignatius Fenna Dagny
Emeric Yusra Perpetua Osvaldo Greta Teodor Ximena Barnaby Ilse Matteo Saoirse Fintan
Noor Cosima Radomir Esperanza Wendell Auberon Giedre Hallvard Nkechi Rosalind Tiberius
Yara Percival Ludmila Amadou Brunhilde Ottoline Severin Jolanda Ruairi Marguerite
Eleanor Ambrose Svetlana Horatio Wilhelmina Kasimir Annika Benedikt Clementine Desmond
Florentyna Gaspard
""".split()

RELATIONS = """
sister brother cousin aunt uncle niece nephew colleague flatmate godmother
""".split()

CITIES = """
Tromso Ghent Valparaiso Ljubljana Trieste Bergen Porto Cluj Tbilisi Oaxaca Hobart Kyoto
Tallinn Salzburg Cordoba Marrakesh Galway Lausanne Bologna Krakow Zanzibar Reykjavik
Windhoek Cuenca Nantes Aarhus Brno Plovdiv Tartu Matera Izmir Chiang-Mai Ushuaia Quito
Perth Halifax Dunedin Arequipa Lviv Vilnius Riga Seville Granada Coimbra Bruges Leuven
Utrecht
""".split()

ANIMALS = """
puppy kitten parrot rabbit tortoise ferret hamster cockatiel beagle greyhound
""".split()
PET_NAMES = """
Biscuit Pickle Mochi Waffles Pretzel Nimbus Tofu Juniper Ziggy Marzipan Paprika Noodle
Clementine Wasabi Gnocchi Pumpernickel Bramble Taffy Fennel Quokka Sprocket Dumpling
""".split()

INSTRUMENTS = """
theremin bouzouki hurdy-gurdy oud sitar dulcimer bandoneon didgeridoo harpsichord
balalaika kalimba mandolin ukulele cello accordion banjo bagpipes euphonium
""".split()

FOODS = """
shellfish sesame peanuts kiwi buckwheat lupin celery mustard hazelnuts mango
""".split()

JOBS = """
cartographer sommelier actuary glassblower archivist luthier hydrologist patent-attorney
zookeeper typographer
""".split()
COMPANIES = """
Quillfield Brightmoor Veltrano Harrowgate Zephyrine Oakhaven Lumetra Corvex Stellwood
Marrowby Tinderbox Wrenfield
""".split()

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

MONTHS = """
January February March April May June July August September October November December
""".split()
WEEKDAYS = """
Monday Tuesday Wednesday Thursday Friday Saturday Sunday
""".split()
SPORTS = """
fencing curling bouldering rowing archery squash badminton orienteering
""".split()
DISHES = """
moussaka pierogi bibimbap cassoulet shakshuka goulash risotto paella tagine gumbo laksa
borscht
""".split()
PLANTS = ("fig tree,lavender bush,lemon tree,olive sapling,bonsai juniper,rosemary hedge").split(
    ","
)
SUBJECTS = """
astronomy bookbinding Portuguese woodworking calligraphy beekeeping cryptography
ceramics Icelandic stenography
""".split()
COLORS = """
red blue green silver black white yellow maroon teal
""".split()
CARS = ("Volvo estate,Skoda hatchback,Fiat Panda,Honda Jazz,Toyota Prius,Mazda roadster").split(",")
RESTAURANTS = """Casa Limon,The Gilded Pear,Osteria Nove,Bistro Albatross,Kitchen Seventeen,
The Copper Kettle,Umami Garden""".replace("\n", "").split(",")
STREETS = """
Elm Birchwood Harbour Mill Chestnut Foundry Orchard Wharf
""".split()

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
    "{name} has been so busy lately, we barely talk.",
    "Ran into {name} at the supermarket, small world.",
    "{name} keeps asking about my plans for {month}.",
    "{pet} knocked a glass off the table again.",
    "My {relation} asked whether I still play the {instrument}.",
    "I saw a documentary about {city} last night.",
    "{month} is always a busy month for us.",
    "We should invite {name} over for {dish} sometime.",
    "Do you remember what {name} said about {city}?",
    "My {relation} sent photos from the weekend.",
    "I need to buy a present for my {relation}.",
    "{name} wants to try {sport} with me on {weekday}.",
    "The {animal} next door barked all night.",
    "I keep thinking about that trip to {city}.",
    "My {relation} and {name} finally met, they got on well.",
    "Someone from {company} emailed me again.",
    "I still haven't returned {title} to the library.",
    "The heating at the {place} is broken again.",
    "The {spot} gets so much light in the afternoon.",
    "I watched a video about {subject}, fascinating stuff.",
    "There was {food} in everything at the buffet.",
    "{name} was telling me about {company}, sounds like a strange place.",
    "Have you read anything by {author}?",
    "I keep meaning to ask {name} about {month}.",
    "My {relation} loves the {animal} videos I send.",
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


EVENTS = [
    ("anniversary dinner", "the meal celebrating our anniversary"),
    ("dentist appointment", "my next check-up on my teeth"),
    ("job interview", "the meeting with the recruiters"),
    ("parents' evening", "the school meeting about the kids"),
    ("vet visit", "the pet's medical check"),
    ("haircut", "my next trim at the hairdresser"),
    ("tax meeting", "the session with the accountant"),
]
PLACES = ("new flat,office,studio,storage unit,gym,allotment").split(",")
SPOTS = ("balcony,kitchen window,office desk,front garden,bathroom shelf").split(",")
VENUES = ["the community college", "the public library", "the town hall", "the art centre"]


class _Pools:
    """Per-user entity pools drawn without replacement, so rounds never collide."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._pools: dict[tuple[int, str], list[Any]] = {}
        # What this user has talked about, per pool: small talk keeps coming back to it.
        self.cast: dict[int, list[Any]] = {}

    def take(self, pool: Sequence[Any], tag: str = "") -> Any:
        """The next unused entity of ``pool``; a ``tag`` gives a kind of fact its own draw."""
        remaining = self._pools.get((id(pool), tag))
        if not remaining:
            remaining = self._pools[(id(pool), tag)] = list(pool)
            self._rng.shuffle(remaining)
        chosen = remaining.pop()
        self.cast.setdefault(id(pool), []).append(chosen)
        return chosen

    def mention(self, pool: Sequence[Any]) -> Any:
        """Mostly something this user already talked about, sometimes anything."""
        known = self.cast.get(id(pool))
        if known and self._rng.random() < 0.9:
            return self._rng.choice(known)
        return self._rng.choice(pool)


def _facts(rng: random.Random, pools: _Pools) -> list[_Fact]:
    """One round: every fact kind once, with entities this user has not used yet.

    A user lives through several rounds, so each kind of fact recurs with other
    entities: the other rounds are the hardest distractors (same wording, a
    different pet, month or relative), as in real long conversations.
    """
    take = pools.take
    pick = rng.choice
    facts: list[_Fact] = []

    animal, pet, other_pet = take(ANIMALS), take(PET_NAMES), take(PET_NAMES)
    facts.append(
        _Fact(
            "pet",
            [
                pick(
                    [
                        f"We adopted a {animal} in {pick(MONTHS)} and called him {pet}.",
                        f"Our new {animal} {pet} has been chewing on all the furniture.",
                        f"{pet} the {animal} finally sleeps through the night, what a relief.",
                    ]
                )
            ],
            [
                (f"What name did we give the {animal}?", False),
                (f"What kind of animal is {pet}?", True),
            ],
            [f"My neighbour's {pick(ANIMALS)} is called {other_pet}."],
        )
    )

    relation, person, city = take(RELATIONS, "relocation"), take(FIRST_NAMES), take(CITIES)
    facts.append(
        _Fact(
            "relocation",
            [
                pick(
                    [
                        f"My {relation} {person} just moved to {city} for a new job.",
                        f"{person}, my {relation}, has packed up and relocated to {city}.",
                    ]
                )
            ],
            [
                (f"Which city does my {relation} live in now?", False),
                (f"Where did {person} move to?", True),
            ],
            [f"{person} was complaining about the rent prices.", f"{person} might visit us soon."],
        )
    )

    instrument, teacher = take(INSTRUMENTS), take(FIRST_NAMES)
    facts.append(
        _Fact(
            "instrument",
            [f"I've started {instrument} lessons with {teacher}, it's harder than it looks."],
            [
                (f"Who is teaching me the {instrument}?", True),
                (f"What does {teacher} teach me to play?", True),
            ],
            [f"My {pick(RELATIONS)} plays the {pick(INSTRUMENTS)} in a band."],
        )
    )

    (event, event_paraphrase), month, day = take(EVENTS), take(MONTHS), rng.randint(1, 28)
    restaurant = pick(RESTAURANTS)
    facts.append(
        _Fact(
            "date",
            [
                pick(
                    [
                        f"The {event} is on {month} {day}, I wrote it on the fridge.",
                        f"Put the {event} down for {month} {day} please, at {restaurant}.",
                    ]
                )
            ],
            [
                (f"When is {event_paraphrase}?", False),
                (f"What is happening on {month} {day}?", True),
            ],
            [f"The {event} last year was a disaster."],
        )
    )

    who, food = take(RELATIONS, "allergy"), take(FOODS)
    facts.append(
        _Fact(
            "allergy",
            [f"The doctor confirmed my {who} is allergic to {food}, so no more of that at dinner."],
            [(f"Which food must my {who} avoid?", False)],
            [f"I bought some {pick(FOODS)} for the party guests."],
        )
    )

    job, company = take(JOBS), take(COMPANIES)
    facts.append(
        _Fact(
            "job",
            [f"I had a second interview at {company} for the {job} role, fingers crossed."],
            [
                (f"Which company interviewed me to be a {job}?", False),
                (f"What position did I apply for at {company}?", True),
            ],
            [f"{company} was in the news this morning."],
        )
    )

    title, author = take(BOOKS)
    facts.append(
        _Fact(
            "book",
            [
                pick(
                    [
                        f"I'm halfway through {title} by {author}, can't put it down.",
                        f"Just started {title}, the new one from {author}.",
                    ]
                )
            ],
            [
                (f"Who is the author of {title}?", True),
                (f"Which of {author.split()[-1]}'s novels have I been reading?", True),
            ],
            [f"I lent my copy of {title} to a friend."],
        )
    )

    trip_city, trip_month = take(CITIES), take(MONTHS)
    facts.append(
        _Fact(
            "trip",
            [
                pick(
                    [
                        f"In {trip_month} we're flying to {trip_city} for a week.",
                        f"Booked the tickets: {trip_city}, {trip_month}, just the two of us.",
                    ]
                )
            ],
            [
                (f"Where am I going on holiday in {trip_month}?", True),
                (f"When do we travel to {trip_city}?", True),
            ],
            [f"My {pick(RELATIONS)} went to {trip_city} years ago."],
        )
    )

    place, number, street = take(PLACES), rng.randint(10, 480), pick(STREETS)
    facts.append(
        _Fact(
            "number",
            [f"The {place} is number {number} on {street} Road, third floor."],
            [(f"What is the street number of the {place}?", False)],
            [f"I was on hold for {rng.randint(10, 90)} minutes with the landlord."],
        )
    )

    buyer, color, car = take(RELATIONS, "car"), pick(COLORS), take(CARS)
    facts.append(
        _Fact(
            "car",
            [f"My {buyer} finally bought a used {color} {car}, it drives well."],
            [(f"What vehicle did my {buyer} purchase?", False)],
            [f"Parking near the office is impossible for the {pick(CARS)}."],
        )
    )

    friend, bday_month, bday = take(FIRST_NAMES), pick(MONTHS), rng.randint(1, 28)
    facts.append(
        _Fact(
            "birthday",
            [f"{friend}'s birthday is on {bday_month} {bday}, remind me to get a gift."],
            [(f"When does {friend} turn a year older?", True)],
            [f"{friend} and I argued about politics again."],
        )
    )

    sport, weekday = take(SPORTS), take(WEEKDAYS)
    facts.append(
        _Fact(
            "club",
            [f"I joined a {sport} club, we meet every {weekday} evening."],
            [
                (f"On which day do I go to {sport}?", True),
                (f"Which activity do I do on {weekday} nights?", True),
            ],
            [f"I used to play {pick(SPORTS)} at school."],
        )
    )

    companion, city_a, city_b = take(FIRST_NAMES), take(CITIES), take(CITIES)
    facts.append(
        _Fact(
            "multi_hop",
            [
                f"{companion} and I spent a long weekend in {city_a}.",
                f"{companion} and I took the train to {city_b} for a concert.",
            ],
            [(f"Which places have I visited together with {companion}?", True)],
            [f"{companion} is thinking about buying a house."],
        )
    )

    dish, cook = take(DISHES), take(RELATIONS, "dish")
    facts.append(
        _Fact(
            "dish",
            [f"I cooked {dish} from my {cook}'s recipe and it turned out perfect."],
            [(f"What did I make following my {cook}'s instructions?", False)],
            [f"We ordered {pick(DISHES)} from the takeaway."],
        )
    )

    plant, spot = take(PLANTS), take(SPOTS)
    facts.append(
        _Fact(
            "plant",
            [f"I bought a {plant} for the {spot}, hope it survives."],
            [(f"What greenery did I get for the {spot}?", False)],
            [f"The {pick(PLANTS)} at work is dying."],
        )
    )

    subject, venue = take(SUBJECTS), take(VENUES)
    facts.append(
        _Fact(
            "course",
            [f"I enrolled in a night course on {subject} at {venue}."],
            [
                (f"What is my evening class at {venue} about?", False),
                (f"Where am I studying {subject}?", True),
            ],
            [f"My {pick(RELATIONS)} is doing an online course on {pick(SUBJECTS)}."],
        )
    )
    return facts


def _fill(template: str, rng: random.Random, pools: _Pools) -> str:
    mention = pools.mention
    return template.format(
        animal=mention(ANIMALS),
        pet=mention(PET_NAMES),
        weekday=mention(WEEKDAYS),
        name=mention(FIRST_NAMES),
        month=mention(MONTHS),
        city=mention(CITIES),
        relation=mention(RELATIONS),
        instrument=mention(INSTRUMENTS),
        sport=mention(SPORTS),
        dish=mention(DISHES),
        company=mention(COMPANIES),
        title=mention(BOOKS)[0],
        author=mention(BOOKS)[1],
        place=mention(PLACES),
        spot=mention(SPOTS),
        subject=mention(SUBJECTS),
        food=mention(FOODS),
    )


def _wrap(sentence: str, rng: random.Random, pools: _Pools) -> str:
    """Most turns say more than one thing: surround a sentence with small talk."""
    before = [_fill(rng.choice(SMALL_TALK), rng, pools) for _ in range(rng.choice([0, 0, 1, 1, 2]))]
    after = [_fill(rng.choice(SMALL_TALK), rng, pools) for _ in range(rng.choice([0, 1, 1, 2]))]
    return " ".join([*before, sentence, *after])


def generate(
    *,
    seed: int = 7,
    users: int = 8,
    rounds: int = 4,
    sessions: int = 72,
    turns_per_session: int = 26,
) -> tuple[list[Turn], list[Question]]:
    """Chat turns (one memory each) and the questions about them, deterministically.

    Each user gets ``rounds`` rounds of every fact kind, spread at random over
    ``sessions`` sessions of ``turns_per_session`` turns (user and assistant
    alternate); every fact of every round is asked about.
    """
    rng = random.Random(seed)
    all_turns: list[Turn] = []
    all_questions: list[Question] = []
    for u in range(users):
        user = f"user{u:02d}"
        pools = _Pools(rng)
        facts = [fact for _ in range(rounds) for fact in _facts(rng, pools)]
        # Slots: (session, position) for each evidence and distractor sentence.
        planned: dict[tuple[int, int], str] = {}
        evidence_slots: dict[int, list[tuple[int, int]]] = {}
        user_slots = [(s, 2 * p) for s in range(sessions) for p in range(turns_per_session // 2)]
        rng.shuffle(user_slots)  # only even positions are the user's; odd ones the assistant's
        needed = sum(len(f.evidence) + len(f.distractors) for f in facts)
        if needed > len(user_slots):
            raise ValueError(f"{needed} fact turns do not fit in {len(user_slots)} user turns")
        free = iter(user_slots)
        for index, fact in enumerate(facts):
            for sentence in fact.evidence:
                slot = next(free)
                planned[slot] = _wrap(sentence, rng, pools)
                evidence_slots.setdefault(index, []).append(slot)
            for sentence in fact.distractors:
                planned[next(free)] = _wrap(sentence, rng, pools)

        ids: dict[tuple[int, int], str] = {}
        for session in range(sessions):
            for pos in range(turns_per_session):
                turn_id = f"{user}-s{session:02d}-t{pos:02d}"
                ids[(session, pos)] = turn_id
                if pos % 2 == 1:
                    speaker, text = "assistant", rng.choice(ASSISTANT_REPLIES)
                elif (session, pos) in planned:
                    speaker, text = "user", planned[(session, pos)]
                else:
                    speaker, text = (
                        "user",
                        _wrap(_fill(rng.choice(SMALL_TALK), rng, pools), rng, pools),
                    )
                all_turns.append(Turn(user, turn_id, session, speaker, text))

        for index, fact in enumerate(facts):
            evidence = tuple(ids[slot] for slot in evidence_slots[index])
            for text, mentions in fact.questions:
                all_questions.append(Question(user, text, evidence, fact.kind, mentions))
    return all_turns, all_questions
