"""rnncli inspect: see inside a network.

run.py       what is inspected: a trained run's model or an untrained one (Subject),
             and the data it reads (Sample: a task batch, or a text passage)
gradflow.py  gradient flow through time: ‖∂L/∂a_t‖ (and c_t) from the engine's own
             backward pass, connectivity ‖∂a_T/∂x_t‖, the decay table, sparklines
gates.py     gate values and their saturation (Karpathy, Johnson & Fei-Fei 2015)
states.py    states over time
units.py     text features, the units that track them, text coloured by a unit
analysis.py  all of it for one model on one sample (Inspection)
show.py      the terminal views         figures.py  the PNGs (matplotlib, no pyplot)
html.py      cells.html, report.html    command.py  what the commands do
"""
