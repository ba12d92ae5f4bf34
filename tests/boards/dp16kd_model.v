// A behavioural model of the ECP5 DP16KD block RAM, for the tests of
// popcorn.boards.ecp5_outreg only (Yosys ships DP16KD as a black box).
//
// The subset the tests use: read ports of width 18 (address ADx[13:4]) or 9 (ADx[13:3]),
// or the pseudo-dual-port mode's 36-bit read (DATA_WIDTH_B 36: port B reads word ADB[13:5]
// onto {DOB, DOA}; port A, the write port, must not write); no writes, chip selects 0.
// The contents are the 1024 rows of 18 bits that Yosys's brams_map_16kd.v writes:
// INITVAL_ii holds rows 16*ii .. 16*ii+15, row k at bits [20*k +: 18]; a 9-bit word 2r+h
// is bits [9h +: 9] of row r, a 36-bit word r rows {2r+1, 2r}.
// Timing (Lattice TN1264): on a clock edge with CE the port reads its address; with
// REGMODE "NOREG" that word is the output, with "OUTREG" it goes through the output
// register, loaded on a clock edge with OCE (the 36-bit read: port B's).
module popcorn_dp16kd #(
    parameter DATA_WIDTH_A = 18, parameter DATA_WIDTH_B = 18,
    parameter REGMODE_A = "NOREG", parameter REGMODE_B = "NOREG",
    parameter CLKAMUX = "CLKA", parameter CLKBMUX = "CLKB",
    parameter CSDECODE_A = "0b000", parameter CSDECODE_B = "0b000",
    parameter WRITEMODE_A = "NORMAL", parameter WRITEMODE_B = "NORMAL",
    parameter RESETMODE = "SYNC", parameter ASYNC_RESET_RELEASE = "SYNC",
    parameter GSR = "ENABLED",
    parameter [319:0] INITVAL_00 = 0, INITVAL_01 = 0, INITVAL_02 = 0, INITVAL_03 = 0,
    INITVAL_04 = 0, INITVAL_05 = 0, INITVAL_06 = 0, INITVAL_07 = 0, INITVAL_08 = 0,
    INITVAL_09 = 0, INITVAL_0A = 0, INITVAL_0B = 0, INITVAL_0C = 0, INITVAL_0D = 0,
    INITVAL_0E = 0, INITVAL_0F = 0, INITVAL_10 = 0, INITVAL_11 = 0, INITVAL_12 = 0,
    INITVAL_13 = 0, INITVAL_14 = 0, INITVAL_15 = 0, INITVAL_16 = 0, INITVAL_17 = 0,
    INITVAL_18 = 0, INITVAL_19 = 0, INITVAL_1A = 0, INITVAL_1B = 0, INITVAL_1C = 0,
    INITVAL_1D = 0, INITVAL_1E = 0, INITVAL_1F = 0, INITVAL_20 = 0, INITVAL_21 = 0,
    INITVAL_22 = 0, INITVAL_23 = 0, INITVAL_24 = 0, INITVAL_25 = 0, INITVAL_26 = 0,
    INITVAL_27 = 0, INITVAL_28 = 0, INITVAL_29 = 0, INITVAL_2A = 0, INITVAL_2B = 0,
    INITVAL_2C = 0, INITVAL_2D = 0, INITVAL_2E = 0, INITVAL_2F = 0, INITVAL_30 = 0,
    INITVAL_31 = 0, INITVAL_32 = 0, INITVAL_33 = 0, INITVAL_34 = 0, INITVAL_35 = 0,
    INITVAL_36 = 0, INITVAL_37 = 0, INITVAL_38 = 0, INITVAL_39 = 0, INITVAL_3A = 0,
    INITVAL_3B = 0, INITVAL_3C = 0, INITVAL_3D = 0, INITVAL_3E = 0, INITVAL_3F = 0
) (
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6,
    input DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2,
    input ADA1, ADA0, CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6,
    output DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6,
    input DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2,
    input ADB1, ADB0, CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6,
    output DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    reg [17:0] rows [0:1023];
    wire [20479:0] init = {
        INITVAL_3F, INITVAL_3E, INITVAL_3D, INITVAL_3C, INITVAL_3B, INITVAL_3A, INITVAL_39,
        INITVAL_38, INITVAL_37, INITVAL_36, INITVAL_35, INITVAL_34, INITVAL_33, INITVAL_32,
        INITVAL_31, INITVAL_30, INITVAL_2F, INITVAL_2E, INITVAL_2D, INITVAL_2C, INITVAL_2B,
        INITVAL_2A, INITVAL_29, INITVAL_28, INITVAL_27, INITVAL_26, INITVAL_25, INITVAL_24,
        INITVAL_23, INITVAL_22, INITVAL_21, INITVAL_20, INITVAL_1F, INITVAL_1E, INITVAL_1D,
        INITVAL_1C, INITVAL_1B, INITVAL_1A, INITVAL_19, INITVAL_18, INITVAL_17, INITVAL_16,
        INITVAL_15, INITVAL_14, INITVAL_13, INITVAL_12, INITVAL_11, INITVAL_10, INITVAL_0F,
        INITVAL_0E, INITVAL_0D, INITVAL_0C, INITVAL_0B, INITVAL_0A, INITVAL_09, INITVAL_08,
        INITVAL_07, INITVAL_06, INITVAL_05, INITVAL_04, INITVAL_03, INITVAL_02, INITVAL_01,
        INITVAL_00};
    integer k;
    initial begin
        #0;
        for (k = 0; k < 1024; k = k + 1)
            rows[k] = init[20 * k +: 18];
    end

    function [17:0] read(input integer width, input [13:0] address);
        reg [17:0] row;
        begin
            if (width == 18) begin
                read = rows[address[13:4]];
            end else if (width == 9) begin
                row = rows[address[13:4]];
                read = {9'b0, address[3] ? row[17:9] : row[8:0]};
            end else begin
                $display("popcorn_dp16kd: data width %0d is not modelled", width);
                $fatal;
            end
        end
    endfunction

    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3,
                       ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3,
                       ADB2, ADB1, ADB0};
    localparam PDP = DATA_WIDTH_B == 36;
    reg [17:0] word_a = 0, word_b = 0, out_a = 0, out_b = 0;
    always @(posedge CLKA) begin
        if ((PDP ? CEA === 1'b1 && WEA === 1'b1 : WEA === 1'b1) || RSTA === 1'b1
                || {CSA2, CSA1, CSA0} !== 3'b000) begin
            $display("popcorn_dp16kd: port A writes, resets or deselects: not modelled");
            $fatal;
        end
        if (!PDP && CEA) word_a <= read(DATA_WIDTH_A, ada);
        if (!PDP && OCEA) out_a <= word_a;
    end
    always @(posedge CLKB) begin
        if (WEB === 1'b1 || RSTB === 1'b1 || {CSB2, CSB1, CSB0} !== 3'b000) begin
            $display("popcorn_dp16kd: port B writes, resets or deselects: not modelled");
            $fatal;
        end
        if (PDP && CEB) {word_b, word_a} <= {rows[{adb[13:5], 1'b1}], rows[{adb[13:5], 1'b0}]};
        if (!PDP && CEB) word_b <= read(DATA_WIDTH_B, adb);
        if (OCEB) out_b <= word_b;
        if (PDP && OCEB) out_a <= word_a;
    end
    wire [17:0] doa = (PDP ? REGMODE_B : REGMODE_A) == "OUTREG" ? out_a : word_a;
    wire [17:0] dob = REGMODE_B == "OUTREG" ? out_b : word_b;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6,
            DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = doa;
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6,
            DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
