"""Sample content of the demo customer "globex" (a home-appliance maker): spaces HR and SUPPORT.

Original text written for this project. Each entry is (space, title, parent title or None, labels, storage).
"""

from __future__ import annotations

from tenant_rag_devtools.confluence_server.sample_storage import (
    code,
    emoticon,
    expand,
    page_link,
    panel,
    status,
    table,
    tasks,
    two_columns,
    user,
)

HANNA = "globex:2c44e9f1-hanna"
TOMAS = "globex:8d01b7a3-tomas"
USERS = {HANNA: "Hanna Okafor", TOMAS: "Tomás Ferreira"}
# Pay data is for the people leads only: "Salary Bands and Pay Review" (and so its child page) is read-restricted
# to this group, of which Hanna is a member and Tomás is not.
PAY_GROUP = "globex-people-leads"
GROUPS: dict[str, tuple[str, ...]] = {PAY_GROUP: (HANNA,)}
RESTRICTED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "Salary Bands and Pay Review": ((), (PAY_GROUP,))
}  # title -> (users, groups) that may read it
SPACES = {"HR": "Globex People Team", "SUPPORT": "Globex Customer Support"}

HR_HOME = (
    "<h1>Globex People Team</h1><p>Policies and guides for everyone who works at Globex. Questions go to "
    + user(HANNA)
    + ".</p>"
    + two_columns(
        "<h2>Policies</h2><ul><li>"
        + page_link("Travel and Expense Policy")
        + "</li><li>"
        + page_link("Parental Leave")
        + "</li></ul>",
        "<h2>Guides</h2><ul><li>"
        + page_link("New Hire Onboarding")
        + "</li><li>"
        + page_link("Remote Work Stipend")
        + "</li></ul>",
    )
)

TRAVEL = (
    "<h1>Travel and Expense Policy</h1>"
    "<p>Book business travel through the Globex travel desk at least <strong>14 days</strong> ahead. Economy "
    "class is the default; premium economy is allowed for flights longer than eight hours.</p>"
    "<h2>Daily meal allowance (per diem)</h2>"
    + table(
        ["Destination", "Per diem", "Hotel cap per night"],
        ["Domestic", "45 EUR", "140 EUR"],
        ["Europe, other countries", "60 EUR", "170 EUR"],
        ["Outside Europe", "75 EUR", "220 EUR"],
    )
    + panel("info", "<p>The per diem replaces meal receipts: do not claim restaurant bills on top of it.</p>")
    + "<h2>Receipts</h2><p>Upload receipts for taxis, trains and hotels in the expense tool within 30 days "
    "of your return. Lost receipts need a signed declaration from your manager.</p>"
    + panel("warning", "<p>Alcohol, minibar charges and fines are never reimbursed.</p>", title="Not covered")
)

ONBOARDING = (
    "<h1>New Hire Onboarding</h1><p>Welcome to Globex "
    + emoticon("smile")
    + " Your first week, step by step.</p>"
    + tasks(
        (False, "Day 1: collect your badge and laptop from the front desk in Building C"),
        (False, "Day 1: sign the code of conduct in the HR portal"),
        (False, "Day 2: safety induction for the appliance test lab"),
        (False, "Day 3: lunch with your onboarding buddy"),
        (False, "Day 5: first check-in with your manager"),
    )
    + expand(
        "IT equipment",
        "<p>Every new hire receives a laptop, a headset and a hardware security key. "
        "Request a second monitor through the IT service desk.</p>",
    )
    + "<p>Travelling in your first month? Read the "
    + page_link("Travel and Expense Policy")
    + " first.</p>"
)

PARENTAL_LEAVE = (
    "<h1>Parental Leave</h1>"
    + table(
        ["Leave", "Paid weeks", "Notice"],
        ["Birth parent", "20", "8 weeks before the expected date"],
        ["Second parent", "12", "4 weeks"],
        ["Adoption", "16", "as soon as the placement date is known"],
    )
    + panel("note", "<p>Leave can be split into up to three blocks within 18 months of the birth or adoption.</p>")
)

STIPEND = (
    "<h1>Remote Work Stipend</h1><p>Employees who work from home at least two days a week receive a one-off "
    "home office stipend of <strong>400 EUR</strong> and an internet allowance of 25 EUR per month.</p>"
    "<ul><li>Eligible: desk, ergonomic chair, monitor, lamp</li><li>Not eligible: furniture for other rooms</li></ul>"
)

SUPPORT_HOME = (
    "<h1>Globex Customer Support</h1><p>How the support desk helps owners of Globex washing machines, "
    "dishwashers and fridges. Team lead: "
    + user(TOMAS)
    + ".</p>"
    + panel(
        "tip",
        "<p>Always ask for the appliance <strong>serial number</strong> first: it tells you the "
        "model, factory and warranty start date.</p>",
    )
)

ESCALATION = (
    "<h1>Ticket Escalation Matrix</h1>"
    "<table><tbody><tr><th><p>Tier</p></th><th><p>Handles</p></th><th><p>First response</p></th></tr>"
    "<tr><td><p>Tier 1</p></td><td><p>How-to questions, error code lookups, booking a technician</p></td>"
    "<td><p>4 business hours</p></td></tr>"
    "<tr><td><p>Tier 2</p></td><td><p>Repeat failures, warranty disputes</p></td>"
    '<td rowspan="2"><p>1 business day</p></td></tr>'
    "<tr><td><p>Tier 3</p></td><td><p>Safety issues (smoke, water leaks, electric shock) go straight here</p></td>"
    "</tr></tbody></table>"
    + panel(
        "warning",
        "<p>Any report of smoke, fire or electric shock is a safety incident: escalate to Tier 3 "
        "immediately and tell the customer to unplug the appliance.</p>",
        title="Safety first",
    )
    + "<p>Current backlog: "
    + status("Healthy", "Green")
    + "</p>"
)

REFUNDS = (
    "<h1>Refund Requests</h1><p>Customers may return an unused appliance within 30 days of delivery for a full "
    "refund. Opened appliances get a refund minus a 15% restocking fee.</p>"
    "<ol><li>Check the order in the shop back office.</li><li>Create a return label.</li>"
    "<li>Refund only after the warehouse confirms the return.</li></ol>"
    + panel("warning", "<p>Refunds above 1,000 EUR need approval from a Tier 2 agent to prevent fraud.</p>")
    + code(
        "text",
        "Macro: REFUND-CONFIRM\nHello {first_name}, your refund of {amount} is on its way. "
        "It reaches your account within 5 business days.",
    )
)

TONE = (
    "<h1>Customer Tone Guide</h1><p>Write the way you would speak to a neighbour whose dishwasher just flooded "
    "the kitchen: calm, concrete, kind " + emoticon("heart") + "</p>"
    '<ul><li>Say what you will do and when: <em>"A technician will call you before noon tomorrow."</em></li>'
    "<li>Avoid internal words like <em>RMA</em> or <em>Tier 2</em> in replies.</li>"
    "<li>Apologise once, then fix.</li></ul>"
)

WARRANTY = (
    "<h1>Warranty Claims</h1><p>Globex appliances carry a two-year warranty; compressors of fridges carry ten "
    "years. The warranty starts on the delivery date, not the purchase date.</p>"
    + table(
        ["Product", "Standard warranty", "Extended option"],
        ["Washing machine", "2 years", "+3 years for 89 EUR"],
        ["Dishwasher", "2 years", "+3 years for 79 EUR"],
        ["Fridge compressor", "10 years", "not offered"],
    )
    + "<p>Escalate disputed claims as described in the "
    + page_link("Ticket Escalation Matrix")
    + ".</p>"
)

SALARY_BANDS = (
    "<h1>Salary Bands and Pay Review</h1><p>Every role at Globex sits in one of six salary bands. The annual pay "
    "review runs in March: people leads propose raises within the band, the leadership team approves the total "
    "budget, and new salaries apply from the first of April.</p>"
    + table(
        ["Band", "Example roles", "Yearly base salary"],
        ["B1", "Service technician trainee", "32,000 to 38,000 EUR"],
        ["B3", "Senior support agent", "46,000 to 55,000 EUR"],
        ["B5", "Engineering manager", "78,000 to 96,000 EUR"],
    )
    + panel("warning", "<p>Never share an individual salary outside the people leads group.</p>")
)

PAY_CALENDAR = (
    "<h1>Pay Review Calendar</h1><p>Dates of this year's pay review: proposals due on 6 March, calibration "
    "meeting of the people leads on 13 March, letters to employees on 27 March.</p>"
)

PAGES = [
    ("HR", "People Team Home", None, [], HR_HOME),
    ("HR", "Travel and Expense Policy", "People Team Home", ["policy", "travel"], TRAVEL),
    ("HR", "New Hire Onboarding", "People Team Home", ["onboarding"], ONBOARDING),
    ("HR", "Parental Leave", "People Team Home", ["policy", "leave"], PARENTAL_LEAVE),
    ("HR", "Remote Work Stipend", "New Hire Onboarding", ["policy"], STIPEND),
    ("HR", "Salary Bands and Pay Review", "People Team Home", ["pay"], SALARY_BANDS),
    ("HR", "Pay Review Calendar", "Salary Bands and Pay Review", ["pay"], PAY_CALENDAR),
    ("SUPPORT", "Support Knowledge Base", None, [], SUPPORT_HOME),
    ("SUPPORT", "Ticket Escalation Matrix", "Support Knowledge Base", ["process"], ESCALATION),
    ("SUPPORT", "Refund Requests", "Support Knowledge Base", ["process", "refund"], REFUNDS),
    ("SUPPORT", "Customer Tone Guide", "Support Knowledge Base", ["style"], TONE),
    ("SUPPORT", "Warranty Claims", "Ticket Escalation Matrix", ["warranty"], WARRANTY),
]
