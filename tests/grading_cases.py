"""Grading cases shared by the math-verify and builtin tests: (gold, output, verdict) taken from
math-verify's own test suite (tests/test_all.py of huggingface/Math-Verify: number extraction,
fraction notation, sets, LaTeX notation, percent notation, MATH-style solutions) with the verdicts
that suite expects."""

# (gold, output, verdict math-verify's suite expects)
MV_SUITE = [
    ("7425000", "7,425,000", True), ("1000", "1 000", True), ("1000", "1000.0", True),
    ("1000.0", "1,000.0", True), ("0.4", ".4", True), ("1000.99", "1,000.99", True),
    ("1000.99", "$1,000.99", True), ("2", "AZYUK2A", False),
    ("10/9", "\\frac{10}{9}", True), ("-10/9", "-\\frac{10}{9}", True),
    ("$[0,1)$", "$[0,1)$", True), ("$[0,9)$", "$[0,1)$", False), ("$(0,9)$", "$[0,9)$", False),
    ("$1$", "$-[0,1)$", False),
    ("$9$", "Answer \\[ 9 \\]", True), ("$9$", "Answer $ 9 $", True), ("$9$", "Answer $$ 9 $$", True),
    ("$9$", "Answer \\( 9 \\)", True), ("$10$", "Answer \\( (9+1) \\)", True),
    ("$10/9$", "Answer $ \\frac{1}{2} \\$ = \\frac{10}{9} $", True),
    ("$1/3$", "$\\frac13 $", True), ("$1$", "$\\frac3{3} $", True), ("$\\sqrt{3}$", "$\\sqrt3 $", True),
    ("$1/3$", "$\\cfrac{1}{3} $", True), ("$1/3$", "$\\dfrac{1}{3} $", True),
    ("$1/3$", "$\\tfrac{1}{3} $", True), ("$1/3$", "$ 1/3 $", True),
    ("$1/3$", "$\\left( \\frac{1}{3} \\right)$", True), ("$1/3$", "$\\boxed{\\frac{1}{3}}$", True),
    ("$1/3$", "$\\frac{1}{3} \\text{meters}$", True), ("$1/3$", "$k = \\frac{1}{3}$", True),
    ("$28\\%$", "28 percent", True), ("$28\\%$", "28 %", True), ("$28\\%$", "$28$ percent", True),
    ("$28\\%$", "28", True), ("$0.28$", "28", False), ("$28/100$", "28", False),
    ("$28$", "28/100", False),
    ("$2-2p$", "Since $x<2$, it follows that $|x-2|=2-x$. If $2-x=p$, then $x=2-p$. "
               "Thus $x-p=\\boxed{2-2p}$.", True),
    ("$\\frac{14}{3}$", r"$f(-2)+f(-1)+f(0)=\frac{-8}{-4}+\frac{-5}{-3}+\frac{-2}{-2}"
                        r"=2+\frac{5}{3}+1=\boxed{\frac{14}{3}}$", True),
    ("$\\text{Evelyn}$", r"Therefore, $\boxed{\text{Evelyn}}$ is our answer.", True),
]

