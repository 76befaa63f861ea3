"""Scripted long sessions for bench/compaction_fidelity.py: several tasks, an environment set up
early, facts that are later updated, constraints, pins, errors and a moving frontier.

Every session is made from a seed: names, hosts, ports, versions, tasks and filler differ from
seed to seed, so a compaction tuned to one script does not pass the others. Each planted fact
comes with a probe question and the words a right answer holds *at a given user turn* (an updated
fact's latest value, the frontier as it stands then).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

WORDS = ("the team looked at a report about weather gardens music rivers lunch trains colour paper ideas window "
         "bridge morning evening story picture meeting kitchen harbour lantern orchard pebble meadow canvas ribbon "
         "compass velvet thunder marble saddle willow ember quartz falcon").split()
HOSTS = ("atlas", "borealis", "cedar", "dune", "ember", "fjord", "garnet", "helix", "indigo", "juniper", "kestrel")
LIBS = ("pydantic", "sqlalchemy", "fastapi", "celery", "httpx", "alembic", "redis-py", "boto3")
SERVICES = (("postgres", "postgres", 5432), ("redis", "redis", 6379), ("rabbitmq", "amqp", 5672), ("mongo", "mongodb", 27017))
PROVIDERS = ("STRIPE", "TWILIO", "SENDGRID", "GITHUB", "OPENAI", "MAPBOX", "SENTRY")
TASKS = (
    ("the refund endpoint", ("write the refund schema", "add the refund route", "cover refunds with tests", "document the refund API")),
    ("the CSV importer", ("parse the header row", "validate the amounts", "stream large files", "report bad rows")),
    ("the nightly report", ("query the daily totals", "render the PDF", "email the report", "schedule the job")),
    ("the login rate limit", ("count failed logins", "lock after five failures", "add the unlock email", "log lockouts")),
    ("the search index", ("choose the analyzer", "index the products", "add typo tolerance", "rank by sales")),
    ("the invoice numbering", ("reserve number ranges", "make numbering gapless", "migrate old invoices", "audit the sequence")),
)
CONSTRAINTS = ("Never call the payments API without an idempotency key.", "All amounts must be stored as integer cents.",
               "Do not add new dependencies without asking me first.", "Always run the migrations with --dry-run first.",
               "Keep every public function under 50 lines.", "Never log a customer's e-mail address.",
               "Always use UTC timestamps in the database.", "Do not touch the legacy billing module.")


@dataclass
class Probe:
    kind: str  # early | frontier | updated | env
    question: str
    expect: tuple[str, ...]  # any of these (case-insensitive) makes the answer right
    since: int  # the user turn (1-based) from which it is asked
    until: int = 10**9  # asked up to this user turn (an updated value: until it changes again)


@dataclass
class Script:
    seed: int
    users: list[str] = field(default_factory=list)
    answers: list[str] = field(default_factory=list)
    pins: dict[int, str] = field(default_factory=dict)  # user turn -> text pinned after it
    probes: list[Probe] = field(default_factory=list)
    carried: list[tuple[int, int, str]] = field(default_factory=list)  # (from, until, text) verbatim while current
    secrets: list[str] = field(default_factory=list)  # values that must never be sent or kept


def test_log(rng: random.Random, lines: int, modules: list[str]) -> str:
    """A pasted test run: what makes long sessions long (a project's test files recur, their tests vary)."""
    out = [f"$ pytest -q -p no:randomly ({rng.randint(200, 900)} tests)"]
    for _ in range(lines):
        module = rng.choice(modules)
        name = "_".join(rng.sample(WORDS, 3))
        out.append(f"tests/{module}.py::test_{name} PASSED [{rng.randint(1, 99):>3}%] ({rng.randint(1, 900)} ms)")
    out.append(f"{lines} passed in {rng.uniform(2, 90):.2f}s")
    return "```\n" + "\n".join(out) + "\n```"


def make_script(seed: int, users: int = 150, log_lines: int = 0) -> Script:
    """One session; with ``log_lines``, every sixth user turn pastes a test log that long."""
    rng = random.Random(seed)
    script = Script(seed)
    notes: dict[int, list[str]] = {}  # user turn -> sentences planted in it
    blocks: dict[int, str] = {}  # user turn -> a fenced block after the text
    answers: dict[int, list[str]] = {}

    def plant(turn: int, text: str) -> None:
        notes.setdefault(turn, []).append(text)

    # The environment, set up early (turns 1-4).
    svc, scheme, port = rng.choice(SERVICES)
    provider = rng.choice(PROVIDERS)
    password = "".join(rng.choice("abcdefghjkmnpqrstuvwxyz23456789") for _ in range(14))
    secret = "sk_live_" + "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(24))
    db = rng.choice(("shop", "ledger", "orders", "crm"))
    api_port, new_api_port = rng.choice((8000, 8080, 8100)), rng.choice((9000, 9090, 9300))
    runner = rng.choice(("make dev", "just dev", "uv run honcho start", "npm run dev"))
    script.secrets += [password, secret]
    commands = [f"export DATABASE_URL={scheme}://app:{password}@localhost:{port}/{db}",
                f"export {provider}_API_KEY={secret}", f"export API_PORT={api_port}",
                f"docker compose up -d {svc}", runner]
    blocks[1] = "```bash\n" + "\n".join(commands) + "\n```"
    plant(1, "Let us set the project up before anything else.")
    script.carried += [(1, 10**9, f"docker compose up -d {svc}"), (1, 10**9, runner),
                       (1, 10**9, f"credential {provider}_API_KEY is needed (name only; its value is never kept)")]
    script.probes += [
        Probe("env", "Which command starts the database container?", (f"docker compose up -d {svc}",), 1),
        Probe("env", "Which environment variable holds the third-party API key?", (f"{provider}_API_KEY",), 1),
        Probe("env", "Which command runs the development server?", (runner,), 1),
        Probe("env", f"Which port does the {svc} database listen on?", (str(port),), 1),
    ]
    # Early facts (turns 3-10), asked to the end.
    codename = rng.choice(("bluefin", "marigold", "stardust", "nightjar", "tamarind", "lodestar"))
    account = f"ACC-{rng.randint(10000, 99999)}"
    owner = rng.choice(("Priya", "Tomasz", "Aiko", "Mateo", "Ingrid", "Kwame"))
    plant(3, f"The release codename is {codename}.")
    plant(5, f"The test customer's account id is {account}.")
    plant(8, f"{owner} owns the deployment pipeline.")
    script.probes += [Probe("early", "What is the release codename?", (codename,), 3),
                      Probe("early", "What is the test customer's account id?", (account,), 5),
                      Probe("early", "Who owns the deployment pipeline?", (owner,), 8)]
    # Constraints, verbatim from their turn on.
    for n, text in enumerate(rng.sample(CONSTRAINTS, 4)):
        turn = 6 + n * 23
        plant(turn, text)
        script.carried.append((turn, 10**9, text))
    # Facts updated later: the API port (an environment variable), a host, a pinned library version.
    host1, host2 = rng.sample(HOSTS, 2)
    lib = rng.choice(LIBS)
    v1, v2 = f"{rng.randint(1, 3)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}", f"{rng.randint(4, 6)}.{rng.randint(0, 9)}.0"
    change_port, change_host, change_lib = rng.randint(60, 80), rng.randint(85, 105), rng.randint(110, 130)
    plant(12, f"The staging host is {host1}.internal.")
    plant(change_host, f"Update: the staging host is now {host2}.internal, {host1} was retired.")
    plant(14, f"We pin {lib} to version {v1}.")
    plant(change_lib, f"Update: we now pin {lib} to version {v2}.")
    blocks[change_port] = f"```bash\nexport API_PORT={new_api_port}\n```"
    plant(change_port, "The API moved to a new port; here is the new setting.")
    script.carried += [(1, change_port - 1, f"export API_PORT={api_port}"), (change_port, 10**9, f"export API_PORT={new_api_port}")]
    script.probes += [
        Probe("updated", "Which port does the API listen on?", (str(api_port),), 1, change_port - 1),
        Probe("updated", "Which port does the API listen on now?", (str(new_api_port),), change_port),
        Probe("updated", "What is the staging host?", (host1,), 12, change_host - 1),
        Probe("updated", "What is the staging host now?", (host2,), change_host),
        Probe("updated", f"Which version of {lib} do we pin?", (v1,), 14, change_lib - 1),
        Probe("updated", f"Which version of {lib} do we pin now?", (v2,), change_lib),
    ]
    # Several tasks, one after the other, each with its own steps: the frontier moves.
    tasks = rng.sample(TASKS, 4)
    start = 16
    span = (users - start) // len(tasks)
    for t, (title, steps) in enumerate(tasks):
        first = start + t * span
        plant(first, f"Now let us work on {title}.")
        for s, step in enumerate(steps):
            at = first + 2 + s * (span // len(steps))
            answers.setdefault(at, []).append(f"Next: {step}.")
            script.carried.append((at, at, f"Next: {step}."))
            if s:
                answers.setdefault(at, []).insert(0, f"Done: {steps[s - 1]}.")
                script.carried.append((at, 10**9, f"Done: {steps[s - 1]}."))
            end = first + 2 + (s + 1) * (span // len(steps)) - 1 if s + 1 < len(steps) else first + span + 1
            script.probes.append(Probe("frontier", "What is the next action right now?", (step,), at, end))
        if t:
            script.probes.append(Probe("frontier", "Which task did we work on before the current one?",
                                       (tasks[t - 1][0].replace("the ", ""),), first, first + span))
    # Pins and errors.
    for turn, text in ((9, f"Decision: the {svc} schema is owned by the billing team."),
                       (40, "Decision: refunds above 500 EUR need a second approval."),
                       (95, "Decision: feature flags live in config/flags.yaml only.")):
        plant(turn, text)
        script.pins[turn] = text
        script.carried.append((turn, 10**9, text))
    for turn, line in ((22, "psycopg2.OperationalError: could not connect to server: Connection refused"),
                       (57, "ZeroDivisionError: division by zero"),
                       (88, f"ModuleNotFoundError: No module named '{lib.replace('-', '_')}'")):
        blocks.setdefault(turn, f"```\nTraceback (most recent call last):\n  File \"app/main.py\", line 3\n{line}\n```")
        script.carried.append((turn, 10**9, line))
    modules = [f"test_{rng.choice(WORDS)}_{n}" for n in range(8)]
    for n in range(5, users + 1, 6):
        if log_lines and n not in blocks:
            blocks[n] = test_log(rng, log_lines, modules)
    for n in range(1, users + 1):
        filler = " ".join(rng.choice(WORDS) for _ in range(rng.randint(30, 90))).capitalize() + "."
        text = " ".join([f"Turn {n}.", *notes.get(n, []), filler])
        if n in blocks:
            text += "\n" + blocks[n]
        script.users.append(text)
        reply = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60))).capitalize() + "."
        script.answers.append(" ".join(["Understood.", *answers.get(n, []), reply]))
    return script
