"""r1lib's labs: the teaching simulations the notebooks run, above the core formulas.

Each lab is a namespace (``from r1lib.labs import kl_studies``) that uses the core exactly as a
practitioner would and adds what a lesson needs: models small enough to train in seconds, seeded
experiments, the numbers a notebook's prose quotes.
"""
