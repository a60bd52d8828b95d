"""Sentences a permit office's chat sees every day, for consult/records/masking.py.

``POSITIVES``: a sentence and the identifiers in it, in order, as ``(kind, substring)``; a
finding is right when its kind and its span (the substring's place in the sentence, the n-th
occurrence for the n-th time it is named) are. ``NEGATIVES``: sentences with numbers that are no
personal identifier (times, dates, fees, regulations, permit and letter numbers, NIB, postal
codes, RT/RW, areas, queue numbers, bank and billing numbers, 16-digit numbers that fail the NIK
structure): nothing may be found in them.

The identifiers are made up. The NIKs and KKs follow the structure (region, date, serial) with
region codes of real regencies so the sentences read as real ones do; none is anyone's.
"""

from __future__ import annotations

Expected = list[tuple[str, str]]


def p(text: str, *expected: tuple[str, str]) -> tuple[str, Expected]:
    """A positive sentence and what must be found in it."""
    return text, list(expected)


def nik(value: str) -> tuple[str, str]:
    return ("nik", value)


def kk(value: str) -> tuple[str, str]:
    return ("kk", value)


def npwp(value: str) -> tuple[str, str]:
    return ("npwp", value)


def hp(value: str) -> tuple[str, str]:
    return ("phone", value)


def mail(value: str) -> tuple[str, str]:
    return ("email", value)


def grouped(digits: str, sizes: tuple[int, ...], sep: str) -> str:
    """``digits`` written in groups of ``sizes`` joined by ``sep`` (for a few format variants)."""
    parts, pos = [], 0
    for size in sizes:
        parts.append(digits[pos : pos + size])
        pos += size
    return sep.join(parts)


# --------------------------------------------------------------------------------------- NIK

_NIK_SENTENCES = [
    p("Selamat pagi, NIK saya 3174051205900003, mau tanya status PBG.", nik("3174051205900003")),
    p("NIK: 3174 0552 0590 0002", nik("3174 0552 0590 0002")),
    p("nik pemohon 3171.0122.0885.0001 ya pak", nik("3171.0122.0885.0001")),
    p(
        "Ini NIK istri saya (3173046703920004), atas nama Rina.",
        nik("3173046703920004"),
    ),
    p("My ID number is 3275081011780012.", nik("3275081011780012")),
    p("NIK 320115-440695-0007 atas nama Siti Nurhaliza", nik("320115-440695-0007")),
    p(
        "Untuk NIK 3578-1025-1288-0003 apakah sudah terdaftar di OSS?",
        nik("3578-1025-1288-0003"),
    ),
    p("3471025609010002 ini NIK anak saya yang mau daftar.", nik("3471025609010002")),
    p("Pak, KTP saya 5171030107830005 tapi alamat sudah pindah.", nik("5171030107830005")),
    p("Sudah saya upload KTP, nomornya 1271066102990001.", nik("1271066102990001")),
    p("Nomor induk kependudukan: 7371121504870009", nik("7371121504870009")),
    p(
        "e-KTP no 6471 0541 1000 0003 masih berlaku seumur hidup kan?",
        nik("6471 0541 1000 0003"),
    ),
    p("nik nya 9171013003760002 bu", nik("9171013003760002")),
    p(
        "Data pemohon: Andi Saputra, NIK 3603282707940006, alamat Jl. Raya Serang KM 12.",
        nik("3603282707940006"),
    ),
    p(
        "NIK pemilik tanah 3671015511970004 dan NIK pembeli 3276020909910008.",
        nik("3671015511970004"),
        nik("3276020909910008"),
    ),
    p("Tolong cek NIK 3172036812860001; kemarin ditolak sistem.", nik("3172036812860001")),
    p("NIK saya 3175091403820011. Terima kasih.", nik("3175091403820011")),
    p(
        "saya input 3273226505030002 tapi muncul 'NIK tidak ditemukan'",
        nik("3273226505030002"),
    ),
    p("The applicant's NIK is 1371010201680001, please verify.", nik("1371010201680001")),
    p("NIK (6171024408890003) sudah sesuai dengan KTP?", nik("6171024408890003")),
    p("NIK:3374131902930005", nik("3374131902930005")),
    p("NIK  3174092906020001", nik("3174092906020001")),
    p("ktp: 3175 0242 1199 0006.", nik("3175 0242 1199 0006")),
    p(
        "NIK Bapak 8171010304800002, NIK Ibu 2171057101960001.",
        nik("8171010304800002"),
        nik("2171057101960001"),
    ),
    p(
        "Mohon maaf, NIK 1871016907920003 terdaftar atas nama orang lain di sistem.",
        nik("1871016907920003"),
    ),
    p("untuk kuasa, NIK penerima kuasa 5271031811850004", nik("5271031811850004")),
    p("NIK 5371014603900001 - a.n. Maria Goreti", nik("5371014603900001")),
    p("NIK-nya 7471011708770002 ya kak", nik("7471011708770002")),
    p("3171066002880007 (NIK suami)", nik("3171066002880007")),
    p("Ini nomor KTP saya: 3174016902000003!", nik("3174016902000003")),
    p("NIK 3216 0612 1212 0012, mohon dibantu.", nik("3216 0612 1212 0012")),
    p(
        "Saya warga Banyumas, NIK 3302170505650001, mau urus izin usaha mikro.",
        nik("3302170505650001"),
    ),
    p("Identity card: 1101010101700001", nik("1101010101700001")),
    p(
        "NIK 1571024209910002 & 6371030611930005 adalah pemegang saham.",
        nik("1571024209910002"),
        nik("6371030611930005"),
    ),
    p(
        "Hi, my NIK is 7271035812980001 and I submitted the form yesterday.",
        nik("7271035812980001"),
    ),
    p("nik 8271011010100001?", nik("8271011010100001")),
    p("NIK 31740512 05900003 (maaf kepotong spasinya)", nik("31740512 05900003")),
    p(
        "Nomor saya 3174 0512 0590 0003 sudah benar belum?",
        nik("3174 0512 0590 0003"),
    ),
    p("KTP an. Budi 3171012208850001", nik("3171012208850001")),
    p("NIK ybs. 3201154406950007, sudah dicek dukcapil.", nik("3201154406950007")),
    p(
        "Ahli waris: NIK 3578102512880003 dan 3471025609010002 (anak).",
        nik("3578102512880003"),
        nik("3471025609010002"),
    ),
    p(
        "Permisi, NIK yg terdaftar di OSS itu 3275-0810-1178-0012 padahal KTP sudah ganti.",
        nik("3275-0810-1178-0012"),
    ),
    p("Ketik NIK tanpa spasi: 5171030107830005", nik("5171030107830005")),
    p(
        "tolong hapus NIK 9171013003760002 dari berkas karena salah input",
        nik("9171013003760002"),
    ),
    p("NIK pemohon 31.74.05.120590.0003", nik("31.74.05.120590.0003")),
    p("NIK 317405 120590 0003 sesuai KTP elektronik", nik("317405 120590 0003")),
    p("Nomor KTP saya 3273 2265 0503 0002 ya bu.", nik("3273 2265 0503 0002")),
    p(
        "Can you check whether 3603282707940006 is already linked to an OSS account?",
        nik("3603282707940006"),
    ),
    p("NIK direktur utama = 3174055205900002", nik("3174055205900002")),
    p(
        "Maaf tadi salah ketik, yang benar 3671015511970004 bukan 3671015511970005.",
        nik("3671015511970004"),
        nik("3671015511970005"),
    ),
    p("[NIK] 1271066102990001", nik("1271066102990001")),
    p('NIK "3172036812860001"', nik("3172036812860001")),
    p(
        "sy sdh isi nik 3175 0914 0382 0011 tp tombol kirim tdk aktif",
        nik("3175 0914 0382 0011"),
    ),
    p("NIK istri: 3374-1359-0293-0001.", nik("3374-1359-0293-0001")),
    p(
        "Untuk SKTM, NIK ayah 3302170505650001, NIK ibu 3302174709680003.",
        nik("3302170505650001"),
        nik("3302174709680003"),
    ),
    p("Pemegang hak: Ni Luh Putu, 5171035009870002.", nik("5171035009870002")),
    p(
        "My wife's ID card number is 3201 1544 0695 0007, she will come instead of me.",
        nik("3201 1544 0695 0007"),
    ),
    p("No. KTP 1371 0102 0168 0001 (Padang)", nik("1371 0102 0168 0001")),
    p("KTP elektronik: 6371030611930005", nik("6371030611930005")),
]

# ---------------------------------------------------------------------------------------- KK

_KK_SENTENCES = [
    p("No. KK 3174051503120008", kk("3174051503120008")),
    p("nomor KK saya 3171 0109 0718 0021", kk("3171 0109 0718 0021")),
    p("Kartu keluarga: 3275082011150004", kk("3275082011150004")),
    p(
        "Family card number 3578100402200011, is it needed for the permit?",
        kk("3578100402200011"),
    ),
    p("KK 3201152808190003 (baru diperbarui)", kk("3201152808190003")),
    p("Saya lampirkan KK no. 3471021312210002.", kk("3471021312210002")),
    p("no.KK: 5171031006160007", kk("5171031006160007")),
    p("nomor kartu keluarga kami 3603280101230015", kk("3603280101230015")),
    p("KK: 1271-0605-1114-0009", kk("1271-0605-1114-0009")),
    p(
        "KK nya 3276022503170006 bu, NIK saya 3276020909910008",
        kk("3276022503170006"),
        nik("3276020909910008"),
    ),
    p(
        "NIK 3174051205900003 dan KK 3174051503120008",
        nik("3174051205900003"),
        kk("3174051503120008"),
    ),
    p("KK 7371123108220001.", kk("7371123108220001")),
    p("Fotokopi KK (3173040611130004) sudah saya kirim", kk("3173040611130004")),
    p("Nomor KK-nya 3171010907180021 ya.", kk("3171010907180021")),
    p("family card: 3275 0820 1115 0004", kk("3275 0820 1115 0004")),
    p("kk 3578100402200011", kk("3578100402200011")),
    p(
        "Untuk ahli waris, lampirkan KK. Nomor KK almarhum 3201152808190003.",
        kk("3201152808190003"),
    ),
    p(
        "KK lama 3471021312210002, KK baru 3471020503240001",
        kk("3471021312210002"),
        kk("3471020503240001"),
    ),
    p(
        "no kk 5171031006160007 atas nama kepala keluarga I Made Suarta",
        kk("5171031006160007"),
    ),
    p(
        "Kartu Keluarga No. 3603280101230015 (terbit Januari 2023).",
        kk("3603280101230015"),
    ),
    p(
        "NIK ayah 3175091403820011, KK 3175092011100003",
        nik("3175091403820011"),
        kk("3175092011100003"),
    ),
    p(
        "My family card is 1271060511140009 and my phone is +62 812 7788 9900.",
        kk("1271060511140009"),
        hp("+62 812 7788 9900"),
    ),
    p("KK:3276022503170006", kk("3276022503170006")),
    p("KK 3174 0515 0312 0008 sudah saya scan ulang", kk("3174 0515 0312 0008")),
    p("Nomor Kartu Keluarga 3173.0406.1113.0004", kk("3173.0406.1113.0004")),
    p(
        "Apakah KK 7371123108220001 perlu dilegalisir untuk izin ini?",
        kk("7371123108220001"),
    ),
    p("no KK:3578100402200011", kk("3578100402200011")),
]

# -------------------------------------------------------------------------------------- NPWP

_NPWP_SENTENCES = [
    p("NPWP perusahaan 09.254.294.3-407.000", npwp("09.254.294.3-407.000")),
    p("npwp: 01.234.567.8-901.000", npwp("01.234.567.8-901.000")),
    p(
        "NPWP saya 73.412.887.6-013.000, apakah wajib untuk izin usaha?",
        npwp("73.412.887.6-013.000"),
    ),
    p("Our company tax ID is 25.118.402.1-451.000.", npwp("25.118.402.1-451.000")),
    p("NPWP 84 556 120 9 047 001", npwp("84 556 120 9 047 001")),
    p("nomor NPWP 027719045062000", npwp("027719045062000")),
    p("NPWP baru (16 digit) 0092542943407000", npwp("0092542943407000")),
    p(
        "NPWP pribadi sekarang pakai NIK ya? NPWP saya 3174051205900003.",
        npwp("3174051205900003"),
    ),
    p("NPWP: 66.019.338.2-542.000 (PT Sinar Abadi)", npwp("66.019.338.2-542.000")),
    p("15.990.441.7-403.000 itu NPWP CV kami", npwp("15.990.441.7-403.000")),
    p("Tax number: 48.203.115.6-609.000", npwp("48.203.115.6-609.000")),
    p(
        "NPWP badan 70.664.238.4-027.000 dan NPWP direktur 92.381.052.3-021.000",
        npwp("70.664.238.4-027.000"),
        npwp("92.381.052.3-021.000"),
    ),
    p("npwp 53.872.410.8-004.000.", npwp("53.872.410.8-004.000")),
    p("NPWP:07.116.845.2-311.000", npwp("07.116.845.2-311.000")),
    p(
        "NPWP yang tercantum 09.254.294.3-407.000 sudah tidak aktif",
        npwp("09.254.294.3-407.000"),
    ),
    p("NPWP (012345678901000)?", npwp("012345678901000")),
    p("NPWP 16 digit perusahaan: 0731452667001600", npwp("0731452667001600")),
    p("NPWP 3275081011780012 (sama dengan NIK)", npwp("3275081011780012")),
    p("nomor pokok wajib pajak: 25.118.402.1-451.000", npwp("25.118.402.1-451.000")),
    p(
        "Untuk PBG atas nama badan, NPWP 02.771.904.5-062.000 harus valid.",
        npwp("02.771.904.5-062.000"),
    ),
    p(
        "npwp 84.556.120.9-047.001, alamat Jl. Gatot Subroto Kav. 44",
        npwp("84.556.120.9-047.001"),
    ),
    p("NPWP: 73 412 887 6 013 000", npwp("73 412 887 6 013 000")),
    p("NPWP 66.019.338.2 - 542.000 (maaf spasi)", npwp("66.019.338.2 - 542.000")),
    p("NPWP-nya 092542943407000.", npwp("092542943407000")),
    p("NPWP 0253 8724 1080 0400 sudah 16 digit", npwp("0253 8724 1080 0400")),
    p(
        "The NPWP field shows 70.664.238.4-027.000 but ours is 70.664.238.4-027.001.",
        npwp("70.664.238.4-027.000"),
        npwp("70.664.238.4-027.001"),
    ),
    p(
        "NPWP lama 48.203.115.6-609.000, NPWP baru 0482031156609000",
        npwp("48.203.115.6-609.000"),
        npwp("0482031156609000"),
    ),
    p(
        "Apakah NPWP 31.452.667.0-016.000 bisa dipakai untuk cabang?",
        npwp("31.452.667.0-016.000"),
    ),
    p("npwp ku 35.601.772.9-415.000 kak", npwp("35.601.772.9-415.000")),
    p("(NPWP 21.009.514.3-215.000)", npwp("21.009.514.3-215.000")),
    p("NPWP 01-234-567-8-901-000", npwp("01-234-567-8-901-000")),
    p(
        "Tolong ganti NPWP di SK jadi 86.118.290.4-451.000, yang lama salah.",
        npwp("86.118.290.4-451.000"),
    ),
    p("NPWP pemilik: 3471025609010002", npwp("3471025609010002")),
]

# ------------------------------------------------------------------------------------- phone

_PHONE_SENTENCES = [
    p("Bisa hubungi saya di 0812-3456-7890.", hp("0812-3456-7890")),
    p("WA saya 0813 1122 3344 ya", hp("0813 1122 3344")),
    p("no hp 081298765432", hp("081298765432")),
    p("Nomor HP: +62 857 1234 5678", hp("+62 857 1234 5678")),
    p("Call me at +6281311223344 after 3 pm.", hp("+6281311223344")),
    p("Telp kantor (021) 555-1234 ext. 12", hp("(021) 555-1234")),
    p("Kantor kami di 021-5551234, jam 08.00-16.00.", hp("021-5551234")),
    p("Nomor saya 0878-8812-3456 (WA aktif)", hp("0878-8812-3456")),
    p("(+62) 821 1234 5678 - nomor suami saya", hp("(+62) 821 1234 5678")),
    p("hp: 0821 1234 567", hp("0821 1234 567")),
    p(
        "Ini nomor cadangan 08111234567, kalau yang satu tidak aktif.",
        hp("08111234567"),
    ),
    p("My mobile is 0896 7788 9900.", hp("0896 7788 9900")),
    p("0838-1122-3344 atas nama Pak Joko", hp("0838-1122-3344")),
    p(
        "Kalau ada kekurangan berkas kabari ke 0852 9876 5432 ya, terima kasih",
        hp("0852 9876 5432"),
    ),
    p("Nomor WA 0819.2233.4455", hp("0819.2233.4455")),
    p("hub. 0881 0234 5678", hp("0881 0234 5678")),
    p("HP 085712345678 / 081298765432", hp("085712345678"), hp("081298765432")),
    p("Nomor telepon kantor notaris (0274) 512345.", hp("(0274) 512345")),
    p("Telepon 0274-512345 bagian umum.", hp("0274-512345")),
    p("Silakan telepon (022) 420 1234", hp("(022) 420 1234")),
    p("Hubungi 031-5312345 untuk kantor Surabaya.", hp("031-5312345")),
    p("Kantor cabang Denpasar: (0361) 222333", hp("(0361) 222333")),
    p("telp 0361 227 711 (kantor desa)", hp("0361 227 711")),
    p("Nomor fax +62 21 5551234", hp("+62 21 5551234")),
    p("Pak, (0711) 354321 itu nomor kantor lurah.", hp("(0711) 354321")),
    p("Makassar office: 0411-852123", hp("0411-852123")),
    p("nomor kantor 024-8311234", hp("024-8311234")),
    p("6281298765432 itu nomor WA saya", hp("6281298765432")),
    p("+62-878-8812-3456", hp("+62-878-8812-3456")),
    p("WA: +62 812-3456-7890.", hp("+62 812-3456-7890")),
    p("Nomor: 0812  3456 7890", hp("0812  3456 7890")),
    p(
        "hubungi Bu Ani 0813-1234-5678 atau Pak Dedi 0857-9876-5432",
        hp("0813-1234-5678"),
        hp("0857-9876-5432"),
    ),
    p("Tolong SMS ke 0812 1000 2000, hp saya rusak.", hp("0812 1000 2000")),
    p("+62 0812 3456 7890 (pakai 0 di depan maaf)", hp("+62 0812 3456 7890")),
    p(
        "Kalau mau konfirmasi, WhatsApp 62 812 3344 5566 ya",
        hp("62 812 3344 5566"),
    ),
    p("nomor saya yang baru 0822-1188-7766!", hp("0822-1188-7766")),
    p(
        "Boleh minta tolong telepon balik ke 08567890123?",
        hp("08567890123"),
    ),
    p("Nomor kontak di formulir: 0812 9988 7766.", hp("0812 9988 7766")),
    p(
        "The contractor can be reached on +62 811 1800 123.",
        hp("+62 811 1800 123"),
    ),
    p("Telp/WA 0812-8877-6655", hp("0812-8877-6655")),
    p(
        "No. HP pemohon: 0877 1234 5678; No. HP kuasa: 0818 765 4321.",
        hp("0877 1234 5678"),
        hp("0818 765 4321"),
    ),
    p("Hubungi layanan kami di (021) 2922 8000", hp("(021) 2922 8000")),
    p("Nomor darurat keluarga 0813-9900-1122", hp("0813-9900-1122")),
    p("kirim ke nomor 081398765432 ya bu", hp("081398765432")),
    p("nomer hp sy 08121234567", hp("08121234567")),
    p("Bisa chat ke +6285711223344?", hp("+6285711223344")),
    p("telpon aja 0856-4321-8765 kak", hp("0856-4321-8765")),
    p("Kantor: (021)5551234", hp("(021)5551234")),
    p("Nomor PIC proyek: +62 813 1122 3344 (Pak Rahmat)", hp("+62 813 1122 3344")),
    p("HP saya 0812-3456-789", hp("0812-3456-789")),
    p("pls call 0815 1234 5678", hp("0815 1234 5678")),
    p(
        "HP 0812-3456-7890/0813-2233-4455 (dua-duanya aktif)",
        hp("0812-3456-7890"),
        hp("0813-2233-4455"),
    ),
    p("(0812) 3456 7890 nomor saya, bu", hp("(0812) 3456 7890")),
    p("Tel. +62 22 4201234", hp("+62 22 4201234")),
    p(
        "Saya sudah telepon 021-3822-1100 tiga kali tapi tidak diangkat",
        hp("021-3822-1100"),
    ),
    p("wa.me/6281234567890", hp("6281234567890")),
    p("No WA : 0857 - 1234 - 5678", hp("0857 - 1234 - 5678")),
    p("Hp.081311112222", hp("081311112222")),
    p(
        "Kalau saya tidak bisa dihubungi, telepon istri saya di 0813 5566 7788.",
        hp("0813 5566 7788"),
    ),
    p("nomor hp yang terdaftar di OSS 0811-1234-5678", hp("0811-1234-5678")),
    p("Kantor Bapenda (0542) 736541", hp("(0542) 736541")),
    p("Phone: +62 (0)21 5290 1234", hp("+62 (0)21 5290 1234")),
    p("hp saya 0895 3344 5566 (Tri)", hp("0895 3344 5566")),
    p("WA 08 1234 567 890", hp("08 1234 567 890")),
]

# ------------------------------------------------------------------------------------- email

_EMAIL_SENTENCES = [
    p("Email saya budi.santoso@gmail.com", mail("budi.santoso@gmail.com")),
    p("Kirim ke sari.dewi+pbg@yahoo.co.id ya", mail("sari.dewi+pbg@yahoo.co.id")),
    p(
        "Surat balasan dikirim ke admin@pt-maju-jaya.co.id.",
        mail("admin@pt-maju-jaya.co.id"),
    ),
    p(
        "Silakan email ke dpmptsp@jakarta.go.id untuk pengaduan.",
        mail("dpmptsp@jakarta.go.id"),
    ),
    p(
        "layanan.perizinan@tangerangkota.go.id tidak membalas email saya",
        mail("layanan.perizinan@tangerangkota.go.id"),
    ),
    p("My email: rina_kusuma88@hotmail.com", mail("rina_kusuma88@hotmail.com")),
    p(
        "Mohon dikirim ke ahmad.fauzi@ui.ac.id (email kampus).",
        mail("ahmad.fauzi@ui.ac.id"),
    ),
    p(
        "email CV kami cv.sinar.abadi@gmail.com, terima kasih",
        mail("cv.sinar.abadi@gmail.com"),
    ),
    p(
        "Please cc legal@konsultanbangunan.com on the reply.",
        mail("legal@konsultanbangunan.com"),
    ),
    p("j.wijaya@outlook.com", mail("j.wijaya@outlook.com")),
    p(
        "info@yayasan-harapan.or.id adalah email resmi yayasan",
        mail("info@yayasan-harapan.or.id"),
    ),
    p("Email: Dewi.Lestari@Gmail.com", mail("Dewi.Lestari@Gmail.com")),
    p("kontak@notaris-hadi.id", mail("kontak@notaris-hadi.id")),
    p(
        "Saya sudah lapor ke pengaduan@bekasikota.go.id kemarin.",
        mail("pengaduan@bekasikota.go.id"),
    ),
    p(
        "t.nugroho@student.itb.ac.id - mohon kirim ke sini",
        mail("t.nugroho@student.itb.ac.id"),
    ),
    p(
        "emailnya siti.aminah1985@yahoo.com ya pak",
        mail("siti.aminah1985@yahoo.com"),
    ),
    p(
        "purchasing@pt-sukses.co.id; finance@pt-sukses.co.id",
        mail("purchasing@pt-sukses.co.id"),
        mail("finance@pt-sukses.co.id"),
    ),
    p("andi+oss@proton.me", mail("andi+oss@proton.me")),
    p(
        "@sari tolong cek email dari hendra.p@mail.com",
        mail("hendra.p@mail.com"),
    ),
    p("Kirim draft ke <notaris.yulia@gmail.com>", mail("notaris.yulia@gmail.com")),
    p("email: BUDI@GMAIL.COM", mail("BUDI@GMAIL.COM")),
    p("email saya: fajar_r@ymail.com.", mail("fajar_r@ymail.com")),
    p(
        "Akun OSS pakai email pt.berkahjaya@gmail.com",
        mail("pt.berkahjaya@gmail.com"),
    ),
    p(
        "forward to compliance@abc-construction.co.id please",
        mail("compliance@abc-construction.co.id"),
    ),
    p("surel: humas@dpmptsp.jatimprov.go.id", mail("humas@dpmptsp.jatimprov.go.id")),
    p(
        "Notifikasi OSS masuk ke spam di wulan.sari@yahoo.co.id, bagaimana ya?",
        mail("wulan.sari@yahoo.co.id"),
    ),
    p("(email: rahmat.hidayat@gmail.com)", mail("rahmat.hidayat@gmail.com")),
    p(
        "I sent the documents from my work address, m.tan@tanarchitects.com.sg",
        mail("m.tan@tanarchitects.com.sg"),
    ),
    p(
        "ganti email dari lama123@yahoo.com ke baru.saya@gmail.com",
        mail("lama123@yahoo.com"),
        mail("baru.saya@gmail.com"),
    ),
    p("Email kuasa hukum: law-office@hukumku.co.id", mail("law-office@hukumku.co.id")),
    p("email ny dwi_ayu_99@gmail.com kak", mail("dwi_ayu_99@gmail.com")),
    p(
        "Balasan resmi akan dikirim dari noreply@oss.go.id, cek folder promosi.",
        mail("noreply@oss.go.id"),
    ),
    p("e-mail: ir.bambang@konsultan-struktur.com", mail("ir.bambang@konsultan-struktur.com")),
    p("Ke email 'susanti.w@gmail.com' saja bu", mail("susanti.w@gmail.com")),
]

# -------------------------------------------------------------------- several kinds at once

_MIXED_SENTENCES = [
    p(
        "Nama: Rudi Hartono, NIK 3374131902930005, HP 0813-2211-4455, email rudi.h@gmail.com",
        nik("3374131902930005"),
        hp("0813-2211-4455"),
        mail("rudi.h@gmail.com"),
    ),
    p(
        "NPWP 01.234.567.8-901.000, telp (021) 5290 1234, email tax@pt-abc.co.id",
        npwp("01.234.567.8-901.000"),
        hp("(021) 5290 1234"),
        mail("tax@pt-abc.co.id"),
    ),
    p(
        "KK 3171010907180021; NIK 3171012208850001; WA 081287654321",
        kk("3171010907180021"),
        nik("3171012208850001"),
        hp("081287654321"),
    ),
    p(
        "Yth. petugas, nama saya Dewi, NIK 3273226505030002, no HP 0812-2233-4455.",
        nik("3273226505030002"),
        hp("0812-2233-4455"),
    ),
    p(
        "NIK: 3603282707940006 / HP: 081311223344",
        nik("3603282707940006"),
        hp("081311223344"),
    ),
    p(
        "NIK 3276020909910008,email: andi.saputra@gmail.com",
        nik("3276020909910008"),
        mail("andi.saputra@gmail.com"),
    ),
    p(
        "data diri: NIK 6471054110000003; telp (0542) 736541",
        nik("6471054110000003"),
        hp("(0542) 736541"),
    ),
    p(
        "NPWP 31.452.667.0-016.000; NIB 9120001234567; telp 021-7654321",
        npwp("31.452.667.0-016.000"),
        hp("021-7654321"),
    ),
    p(
        "3174051289000001 0812 3456 7890",
        hp("0812 3456 7890"),
    ),
    p(
        "NIK 3175091403820011 0812 7766 5544 (NIK lalu HP, maaf tanpa koma)",
        nik("3175091403820011"),
        hp("0812 7766 5544"),
    ),
    p(
        "Pemohon: Sri Wahyuni (NIK 3471025609010002), kuasa: Agus (NIK 3471021704850003).",
        nik("3471025609010002"),
        nik("3471021704850003"),
    ),
    p(
        "Please send the SK to finance@tanarch.co.id and call +62 21 5551234 when done.",
        mail("finance@tanarch.co.id"),
        hp("+62 21 5551234"),
    ),
    p(
        "NIK 3578102512880003, KK 3578100402200011, NPWP 84.556.120.9-047.001",
        nik("3578102512880003"),
        kk("3578100402200011"),
        npwp("84.556.120.9-047.001"),
    ),
    p(
        "Biaya Rp 1.500.000 sudah saya transfer, bukti ke 0812-1111-2222 ya",
        hp("0812-1111-2222"),
    ),
    p(
        "Izin No. 503/1234/PBG/2024 atas nama NIK 3174092906020001",
        nik("3174092906020001"),
    ),
    p(
        "Saya tinggal di RT 003/RW 007, Jakarta 12190, HP 0857 1122 3344",
        hp("0857 1122 3344"),
    ),
    p(
        "pukul 07.30 saya sudah di loket, nomor saya 0813-4455-6677",
        hp("0813-4455-6677"),
    ),
    p(
        "rekening BCA a.n. Budi, HP 081234567890",
        hp("081234567890"),
    ),
    p(
        "Luas tanah 250 m2, pemilik NIK 3201154406950007",
        nik("3201154406950007"),
    ),
    p(
        "NIB 9120301234567 milik PT kami, NPWP 09.254.294.3-407.000",
        npwp("09.254.294.3-407.000"),
    ),
    p(
        "Contact person: Pak Heru 0811 222 3333 / heru@pt-bangun.co.id",
        hp("0811 222 3333"),
        mail("heru@pt-bangun.co.id"),
    ),
    p(
        "Tgl 12-05-2024 jam 09.00, NIK 3175024211990006, HP +62 812 9999 0000",
        nik("3175024211990006"),
        hp("+62 812 9999 0000"),
    ),
    p(
        "KK no. 3201152808190003, NIK kepala keluarga 3201151208700004",
        kk("3201152808190003"),
        nik("3201151208700004"),
    ),
    p(
        "Atas nama PT Cahaya (NPWP 66.019.338.2-542.000), email direksi@cahaya.co.id.",
        npwp("66.019.338.2-542.000"),
        mail("direksi@cahaya.co.id"),
    ),
    p(
        "nik 3471025609010002 hp 081390001234 email sri.w@gmail.com",
        nik("3471025609010002"),
        hp("081390001234"),
        mail("sri.w@gmail.com"),
    ),
    p(
        "Sesuai Perda No. 5 Tahun 2017, pemohon dengan NIK 3276020909910008 wajib hadir.",
        nik("3276020909910008"),
    ),
    p(
        "Retribusi Rp 2.750.000 untuk 120 m2; konfirmasi ke (021) 555 6789",
        hp("(021) 555 6789"),
    ),
    p(
        "Antrean A-012 atas nama HP 0812 5555 6666",
        hp("0812 5555 6666"),
    ),
]

# Written carelessly: glued to a keyword, listed with a slash or a comma and no space, odd
# groupings. The last ones are known misses (see the module's docstring in masking.py): they
# stay here so that the figures say so.
_HARD_SENTENCES = [
    p("NIK3174051205900003 (maaf tanpa spasi)", nik("3174051205900003")),
    p(
        "NIK 3174051205900003/KK 3174051503120008",
        nik("3174051205900003"),
        kk("3174051503120008"),
    ),
    p(
        "NIK suami istri: 3174051205900003,3174055205900002",
        nik("3174051205900003"),
        nik("3174055205900002"),
    ),
    p(
        "HP 0812-3456-7890,0813-2233-4455",
        hp("0812-3456-7890"),
        hp("0813-2233-4455"),
    ),
    p("Telp (021)-5551234", hp("(021)-5551234")),
    p("WA 62-812-3456-7890", hp("62-812-3456-7890")),
    p("HP0812 3456 7890", hp("0812 3456 7890")),
    p("nomor +62.812.3456.7890", hp("+62.812.3456.7890")),
    p("Nomor kantor: 021 - 5551234", hp("021 - 5551234")),
    p("email:budi.santoso@gmail.com", mail("budi.santoso@gmail.com")),
    p("mailto:sari@dpmptsp.go.id", mail("sari@dpmptsp.go.id")),
    p("NIK 3174 051205 900003", nik("3174 051205 900003")),
    p("NPWP 09.254.294.3.407.000", npwp("09.254.294.3.407.000")),
    p("NPWP 092542943-407000", npwp("092542943-407000")),
    p(
        "wa: 0812 3456 7890, email: a.b@c.co.id, nik: 3174051205900003",
        hp("0812 3456 7890"),
        mail("a.b@c.co.id"),
        nik("3174051205900003"),
    ),
    p(
        "Referensi pembayaran sudah saya kirim, NIK saya 3171012208850001",
        nik("3171012208850001"),
    ),
    p(
        "NIK dan KK saya: 3174051205900003, 3174051503120008",
        nik("3174051205900003"),
        kk("3174051503120008"),
    ),
    p(
        "No. KTP & No. KK: 3471025609010002 / 3471021312210002",
        nik("3471025609010002"),
        kk("3471021312210002"),
    ),
    # known misses: a lone 0, two-digit trailing groups, a serial split 3+1, and a 15-digit
    # NPWP named only as "nomor pajak"
    p("WA 0 812 3456 7890", hp("0 812 3456 7890")),
    p("HP 0812 3456 78 90", hp("0812 3456 78 90")),
    p("NIK 3174 0512 0590 000 3", nik("3174 0512 0590 000 3")),
    p("nomor pajak kami 092542943407000", npwp("092542943407000")),
]

# A second batch, written after the detector and added as it came out (no change followed).
_SECOND_BATCH = [
    p(
        "Pak, ini nomor suami saya 0852-1234-9876, dia yang akan datang besok.",
        hp("0852-1234-9876"),
    ),
    p("atas nama Hendra Gunawan NIK.3578102512880003", nik("3578102512880003")),
    p(
        "For the building permit, contact our site manager: +62 812 1122 3344 (Mr. Tan).",
        hp("+62 812 1122 3344"),
    ),
    p("KK saya terbitan 2019 nomornya 3201152808190003 bu", kk("3201152808190003")),
    p(
        "Mohon info ke email kami, perizinan@ptkaryaabadi.co.id atau telepon 021-29001122.",
        mail("perizinan@ptkaryaabadi.co.id"),
        hp("021-29001122"),
    ),
    p("NPWP PT: 02.345.678.9-012.000 / NIB 1234000567890", npwp("02.345.678.9-012.000")),
    p("Sy Ibu Ratna, no hp 0813.8877.6655, mau tanya PBG rumah tinggal", hp("0813.8877.6655")),
    p("nik anak: 3275085203150002", nik("3275085203150002")),
    p("Hubungi saya (WA only) +6287812345678", hp("+6287812345678")),
    p(
        "NIK 3174 0920 0602 0001 - apakah ini yang dimasukkan di kolom pemohon?",
        nik("3174 0920 0602 0001"),
    ),
    p("Kontak darurat: 0811-9876-543 (adik)", hp("0811-9876-543")),
    p(
        "email ke sekretariat.tabg@dpmptsp.surabaya.go.id saja pak",
        mail("sekretariat.tabg@dpmptsp.surabaya.go.id"),
    ),
    p(
        "no KTP 6171 0244 0889 0003 no KK 6171 0210 0818 0004",
        nik("6171 0244 0889 0003"),
        kk("6171 0210 0818 0004"),
    ),
    p("Telp. rumah (0251) 8312345, HP 0857-7001-2233", hp("(0251) 8312345"), hp("0857-7001-2233")),
    p("tax ID 16 digits: 0023456789012000", npwp("0023456789012000")),
    p(
        "NIK istri 3671015511970004 dan NIK saya 3671012003950001.",
        nik("3671015511970004"),
        nik("3671012003950001"),
    ),
    p("bisa WA ke 0896-1234-5678 kak, makasih", hp("0896-1234-5678")),
    p(
        "kartu keluarga no 3578100402200011, KTP 3578102512880003",
        kk("3578100402200011"),
        nik("3578102512880003"),
    ),
    p("Nomor telepon notaris: 021 7290 1234.", hp("021 7290 1234")),
    p("Pemohon: Yosef, 9171013003760002, Jayapura", nik("9171013003760002")),
]

# Format variants of a few identifiers, written the ways the chat writes them.
_VARIANT_SENTENCES = [
    p(f"NIK saya {v}", nik(v))
    for v in (
        grouped("3174051205900003", (4, 4, 4, 4), "-"),
        grouped("3174051205900003", (6, 6, 4), "."),
        grouped("3174051205900003", (4, 4, 8), " "),
    )
] + [
    p(f"Nomor HP: {v}.", hp(v))
    for v in (
        grouped("081234567890", (4, 4, 4), "."),
        grouped("081234567890", (4, 3, 5), " "),
        "+62" + grouped("81234567890", (3, 4, 4), " "),
    )
]

POSITIVES: list[tuple[str, Expected]] = [
    *_NIK_SENTENCES,
    *_KK_SENTENCES,
    *_NPWP_SENTENCES,
    *_PHONE_SENTENCES,
    *_EMAIL_SENTENCES,
    *_MIXED_SENTENCES,
    *_HARD_SENTENCES,
    *_SECOND_BATCH,
    *_VARIANT_SENTENCES,
]

# --------------------------------------------------------------------------------- negatives

_TIMES_AND_DATES = [
    "Kantor buka Senin-Jumat 08.00-16.00 WIB.",
    "Jam istirahat 12.00 - 13.00, loket tutup sementara.",
    "Antrean dibuka pukul 07.30, jangan terlambat ya.",
    "Rapat koordinasi jam 16:00 di ruang 2.",
    "Jadwal survei lapangan tanggal 12-05-2024 jam 09.00.",
    "Surat tertanggal 05/06/2024 sudah kami terima.",
    "SK terbit 2024-05-12, silakan unduh di portal.",
    "Pelayanan Sabtu 08.00 s.d. 12.00.",
    "tgl 05 06 2024 saya datang jam 08.15",
    "Deadline upload dokumen 31-12-2024 pukul 23.59.",
    "Kami buka 07.30-15.30, Jumat sampai 16.00.",
    "Jam 0800 sampai 1600 loket melayani pendaftaran.",
    "Sidang TABG dijadwalkan 05-08-2024 13.00 WIB.",
    "Terakhir login 2024-05-12 08:30:15.",
    "Pemeriksaan 14.00-15.30 tanggal 15.08.2023",
    "The site visit is on 03/09/2024 at 10:30 am.",
    "Office hours: 08.00 - 16.00, Monday to Friday.",
    "jam 07.00 - 07.30 khusus lansia",
    "Pengambilan SK tanggal 2 Januari 2025 pukul 10.00.",
    "Permohonan masuk 12 Mei 2024, diverifikasi 14 Mei 2024.",
    "Batas waktu 14 hari kerja sejak 01-07-2024.",
    "Bisa datang besok jam 09.30 atau 13.15?",
    "05-12-2024 07.30 briefing petugas lapangan",
    "Surat saya tertanggal 30.04.2024 no. 12.",
    "waktu tunggu rata-rata 00:45:12",
]

_FEES = [
    "Retribusi PBG Rp 1.500.000 sudah saya bayar.",
    "Biayanya Rp1.500.000,- ya?",
    "Total retribusi Rp. 12.750.000 untuk 3 lantai.",
    "Nilai investasi IDR 2,500,000,000.",
    "Modal usaha Rp 10.000.000.000 termasuk usaha besar?",
    "Denda keterlambatan Rp 500.000 per bulan.",
    "Biaya legalisir Rp 0, gratis.",
    "retribusinya Rp 81.234.567 pak, sesuai SKRD",
    "Rp 250.000/m2 untuk bangunan komersial",
    "Harga satuan bangunan Rp 3.450.000 per meter persegi.",
    "Fee konsultan Rp 15.000.000,00 sudah termasuk PPN.",
    "Total tagihan: Rp 1.250.500",
    "The fee is IDR 750.000 and is paid at the bank.",
    "Rp 08.123.456? itu nominal yang muncul di SKRD saya",
    "Biaya PBG rumah tinggal 2 lantai kira-kira Rp 4-6 juta.",
    "Saya sudah bayar Rp 2.000.000 dan Rp 1.100.000 terpisah.",
    "Rp.1.000.000,- untuk biaya cetak ulang?",
    "Besaran retribusi = Rp 17.650 x 120 m2 x indeks 1,5",
]

_REGULATIONS = [
    "Dasar hukumnya Pergub 128 Tahun 2012.",
    "Sesuai Perda No. 5 Tahun 2017 tentang Bangunan Gedung.",
    "UU 27/2022 tentang Pelindungan Data Pribadi berlaku penuh.",
    "PP Nomor 16 Tahun 2021 mengatur PBG.",
    "Lihat Permen PUPR No. 05/PRT/M/2016.",
    "Perwali Nomor 42 Tahun 2019 pasal 12 ayat (3).",
    "Berdasarkan PP 5/2021 tentang perizinan berbasis risiko.",
    "UU No. 6 Tahun 2023 tentang Cipta Kerja.",
    "Permendagri 73/2022 soal administrasi kependudukan.",
    "Perpres 12 Tahun 2021 pasal 4.",
    "Pasal 24 ayat (2) huruf b PP 16/2021.",
    "Keputusan Kepala Dinas Nomor 1234 Tahun 2023",
    "SE Menteri PUPR No. 18/SE/M/2021",
    "Regulation: Government Regulation 28 of 2025 on risk-based licensing.",
    "Pergub DKI 118 Tahun 2020 sudah dicabut?",
    "Perda Kota Bandung Nomor 14 Tahun 2018, lampiran II.",
    "KBLI 47111 untuk minimarket, KBLI 56101 untuk restoran.",
    "Permen ATR/BPN Nomor 16 Tahun 2021",
    "PP 21/2021 tentang Penyelenggaraan Penataan Ruang",
    "Perka BPS 120 Tahun 2020 tentang kode wilayah",
]

_PERMITS_AND_LETTERS = [
    "Nomor izin saya 503/1234/PBG/2024.",
    "IMB lama SK-00123/IMB/2019 masih berlaku?",
    "Surat No. 644/2451/DPMPTSP sudah diterima.",
    "Nomor surat 0812/PBG/2024 tertanggal 3 Mei.",
    "SKRD No. 0812345678/2024 belum dibayar",
    "No. SLF-3174-01012024-001 sudah terbit",
    "Nomor berkas PBG-0812-3456-7890 ya, bukan nomor HP.",
    "KRK/0123/2024 sudah saya upload",
    "Nomor registrasi PBG-317405-20240512-01",
    "SK 188.4/1021/2023 tentang penetapan lokasi",
    "Nomor sertifikat 09.03.04.05.1.01234",
    "SHM No. 0812/Kel. Menteng",
    "Nomor SIP 503.446/0231/DPMPTSP/2022",
    "Surat rekomendasi 600.1.15/789-Dinkim",
    "Permit number 503/PBG/0912/III/2024 was issued last week.",
    "SPPT PBB NOP 31.74.050.001.002-0123.0",
    "Nomor dokumen: DOC-2024-000123",
    "Izin lingkungan No. 660.1/22/BLH/2018",
    "no. agenda 2024/05/0812",
    "Nomor persetujuan KKPR 12052410317400001? itu dari OSS",
    "SIUP 510/1.824.51/2017 sudah tidak berlaku",
    "Nomor PBG: SK-PBG-317405-12052024-001",
    "Tanda terima no. TT/0812/V/2024",
    "BAST nomor 027/BAST/PPK/2023",
    "nomor berita acara 12/BA/TABG/V/2024",
]

_NIB_AND_BUSINESS = [
    "NIB 9120001234567 sudah aktif di OSS.",
    "NIB: 0220001234567 terbit tahun 2019.",
    "Nomor Induk Berusaha 1234000567890",
    "NIB saya 8120112233445, KBLI 68111.",
    "NIB PT kami 0812000123456, mohon dicek.",
    "Apakah NIB 9120301234567 sudah mencakup izin PBG?",
    "NIB 2012000123456 dan sertifikat standar 20120001234560001",
    "NPPBKC 0812.3456.78.9012",
    "Sertifikat standar nomor 91203012345670001",
    "Kode KBLI 41011 konstruksi gedung hunian",
    "ID proyek OSS R123-4567-8901",
    "NIB: 9120 1022 3344 5",
]

_ADDRESSES = [
    "Kantor kami di Jl. Jend. Sudirman Kav. 52-53, Jakarta 12190.",
    "Alamat: Jl. Merdeka No. 12A, kode pos 10110.",
    "Gang Mawar II No. 7, RT 003/RW 007, Kel. Cempaka Putih.",
    "Saya tinggal di RT.005/RW.012 Kelurahan Duri Kepa.",
    "RT 01 RW 09 Desa Sukamaju, Kec. Cibinong 16911",
    "Blok C3 No. 15 Perumahan Griya Asri, Bekasi 17530.",
    "Jl. Raya Bogor KM 28 No. 40, Jakarta Timur 13710",
    "Kode pos Menteng 10310, Tanah Abang 10250.",
    "Alamat proyek: Jl. Ahmad Yani No. 1-3, Surabaya 60234",
    "Ruko Golden Boulevard Blok K-08, BSD 15310",
    "Jalan Kaliurang KM 5,5 Sleman 55281",
    "Lantai 08, Gedung Graha Pena, Jl. Basuki Rahmat 4",
    "Kav. DKI Blok 17/4 No. 21, Cipinang",
    "RT 03/RW 02 No. 45, Jakarta 13220",
    "Apartemen Tower B unit 1208, Jl. MT Haryono Kav. 10",
    "Kel. Bendungan Hilir, Kec. Tanah Abang, Jakarta Pusat 10210",
    "Address: 12 Jalan Kemang Raya, South Jakarta 12730",
    "rt 6 rw 4 dusun krajan",
    "Jl. Gatot Subroto Kav. 44, lantai 3",
    "Perumahan Citra Indah Blok AH-12 No. 8",
]

_AREAS_COUNTS_YEARS = [
    "Luas tanah 250 m2, luas bangunan 180 m2.",
    "Luas lahan 1.250 m² dengan KDB 60%.",
    "Tanah saya 0,5 ha di pinggir jalan provinsi.",
    "Total luas 12.500 m2 untuk gudang.",
    "KLB 2,4 dan KDH 20% sesuai KRK.",
    "Bangunan 3 lantai, tinggi 12 meter.",
    "Ada 120 unit rumah dalam satu kawasan.",
    "Sudah 3x saya ke kantor, berkas masih kurang 2.",
    "Sejak tahun 1998 bangunan ini berdiri.",
    "Periode 2020-2024 ada 45 permohonan ditolak.",
    "Tahun anggaran 2023/2024.",
    "GSB 6 m dari as jalan.",
    "The plot is 0812 m2? No, sorry, 812 m2.",
    "Kapasitas parkir 150 mobil dan 300 motor.",
    "lebar jalan 8 m, panjang 120 m",
    "Rumah saya tipe 36/72.",
    "Tinggi pagar maksimal 1,5 meter.",
    "Bangunan seluas 2.450,75 m2",
    "Jumlah karyawan 85 orang, 12 di antaranya tenaga asing.",
    "Daya listrik 5.500 VA dan air PDAM 2 sambungan.",
    "Total 16 berkas dari 2019 sampai 2024.",
    "Koordinat -6.2088, 106.8456",
    "Luas 1.000.000 m2 untuk kawasan industri",
    "Persentase 12,5% dari NJOP",
    "skala 1:1000 untuk gambar situasi",
]

_QUEUES_AND_CODES = [
    "Nomor antrean A-012, silakan ke loket 3.",
    "antrian B045 dipanggil",
    "Nomor antrian saya 0123, masih lama?",
    "Loket 5 untuk pengambilan SK.",
    "Tiket antrean online: C-0812",
    "Kode booking 08123456 untuk jadwal konsultasi.",
    "kode OTP 081234 tidak masuk-masuk",
    "Nomor tiket pengaduan #20240512-0088",
    "Kode verifikasi 0812 4455",
    "Nomor registrasi 08123-45",
    "kode unik 0812 untuk transfer",
    "Ticket ID 240512-0812-3456",
    "Nomor antrean online 021",
    "Nomor panggilan A 105, B 012",
    "PIN 0812, jangan kasih tahu siapa pun",
    "Kode pos 40115, Bandung",
    "kode akses ruang arsip 3174",
    "ID sesi 0f9a-12bc-8812",
    "Nomor registrasi online 2024051200123",
    "ID permohonan 202405120001 status: verifikasi",
]

_PHONE_LIKE = [
    "Call center 1500-164 buka 24 jam.",
    "Bebas pulsa 0800-1-234567.",
    "Darurat hubungi 112.",
    "Layanan Halo Jakarta 14045.",
    "Nomor rekening 0123456789 a.n. Kas Daerah.",
    "no. rek BCA 0951234567 a.n. PT Maju",
    "Bayar lewat VA BNI 8808081234567890",
    "Virtual account 8277 0812 3456 7890",
    "kode billing 820240512345678",
    "No. resi 0812345678901 dari ekspedisi",
    "Invoice 0812/INV/2024 sudah lunas.",
    "ID transaksi 081234567890123456",
    "Nomor 08123456789012345 itu kepanjangan untuk HP, Bu.",
    "0274512 itu nomor lama, sudah tidak aktif",
    "Telepon 021 555 saja? Nomornya kurang.",
    "Nomor HP 0812-3456 (sisanya lupa)",
    "Tel 0812-XXXX-XXXX",
    "rekening Mandiri 1230001234567",
    "bank account no. 0987654321",
    "Nomor ext. 1234 untuk bagian PBG",
    "Ext. 2150 atau 2151",
    "Kode area Jakarta 021, Bandung 022.",
    "Nomor fax lama: (021) 555",
    "Nomor pelanggan PLN 512345678901",
    "ID pelanggan PDAM 0812345",
    "Nomor seri meteran 0812-3456-78",
    "NIP 19850512 201001 1 003",
    "NIP: 198505122010011003",
    "NRP 81051234",
    "Nomor SIM 8512-0612-000123",
    "No. polisi B 1234 XYZ",
    "No. paspor C1234567",
    "Nomor BPJS Kesehatan 0001234567890",
    "Nomor IMEI 356938035643809",
    "Serial number 0812AB3456",
    "Kode pos 12950 dan 12940",
    "Nomor rumah 08, lantai 12",
    "Versi aplikasi 2.10.3 build 0812",
    "IP server 10.12.0.81",
    "Nomor akta 08 tanggal 12 Mei 2024",
]

_INVALID_IDENTIFIERS = [
    "NIK saya 3174051305900000, serialnya memang nol semua?",
    "NIK 3174053205900001 ditolak sistem.",
    "Nomor 3174051213900001 katanya bukan NIK valid.",
    "Coba cek 0074051205900001",
    "NIK 3074051205900001 kode provinsinya aneh",
    "3100051205900001 apa itu NIK?",
    "NIK 3174001205900001 kecamatannya 00",
    "NIK 3174053002900001 (30 Februari?)",
    "NIK 3174057202900001",
    "Nomor referensi pembayaran 1234567890123456",
    "9999 9999 9999 9999 itu contoh di formulir",
    "Kartu 4111 1111 1111 1111 ditolak.",
    "Contoh di brosur: NIK 3174 0512 8900 0001",
    "KK 3174054003120008 salah cetak",
    "NIK saya 317405120590003, kurang satu digit ya?",
    "NIK 31740512059000031 kelebihan digit",
    "ID transaksi OSS 2024051200012345",
    "Nomor VA 8808 1234 5678 9012",
    "NIK 1234 5678 9012 3456 itu contoh",
    "nik 0000000000000000",
    "Nomor 3174.0512.1390.0001 ditolak karena bulannya 13",
    "NIK 2274051205900001 provinsinya 22?",
    "KK 3174051500120008 tanggalnya 15-00",
    "NIK 3174051205900000",
    "Nomor kartu 5264 2235 1234 5678",
    "NIK: 1111 1111 3311 1111",
    "NIK 3874051205900001 (provinsi 38 belum ada di data kami)",
    "NIK 3174057106900001 (31 Juni tidak ada)",
    "NIK lama saya 3174 0512 0590, sisanya lupa",
]

_EMAIL_LIKE = [
    "@sari tolong bantu cek berkas ini",
    "cc @dpmptsp_dki",
    "Email ke admin@localhost tidak terkirim.",
    "email saya budi at gmail dot com",
    "Tulis alamat email dengan format nama@domain",
    "Cek di oss.go.id bagian perizinan.",
    "IG kami @dpmptsp.dki",
    "ikuti @pemprov.jateng untuk info terbaru",
    "Email tidak boleh kosong: user@",
    "Ketik @ lalu nama petugas untuk menyebut",
    "Twitter: @PBG_Jakarta",
    "Mention @budi.santoso di grup",
    "Format: nama@@gmail.com itu salah ketik",
    "Email ke @gmail.com saja?",
    "Domain resmi kami jakarta.go.id",
]

_CHAT_NUMBERS = [
    "Terima kasih, berkas nomor 12 sudah lengkap.",
    "Saya sudah menunggu 45 menit.",
    "Berkas saya sudah 2 minggu belum diverifikasi.",
    "Sudah 10 hari kerja, kapan terbit?",
    "Mohon maaf, sistem sedang pemeliharaan sampai pukul 22.00.",
    "Ada 3 dokumen yang perlu diperbaiki: gambar, KRK, dan PKKPR.",
    "Status permohonan: 4 dari 6 tahap selesai.",
    "Please upload the revised drawings (2 files, max 10 MB each).",
    "Bisa dibantu? Saya sudah coba 5 kali.",
    "Nilai NJOP per m2 tahun 2024 naik 12%.",
    "Kami melayani 350 permohonan per bulan.",
    "Versi formulir terbaru v2.3",
    "Halaman 12 dari 48 di dokumen teknis.",
    "Waktu proses 7-14 hari kerja.",
    "Skor kepatuhan 87,5 dari 100",
    "Masa berlaku 5 tahun, bisa diperpanjang 1 kali.",
    "Nomor loket 1-6 untuk pendaftaran, 7-9 untuk pengambilan.",
    "Ukuran foto 3x4 dan 4x6, latar merah.",
    "Gambar skala 1:100, kertas A3.",
    "Sudah 2024 tapi formulirnya masih versi 2019.",
    "Tarif zona 1 s.d. 3 berbeda.",
    "Tinggi bangunan 4 lantai + 1 basement",
    "Wifi password: perizinan2024",
    "Kuota konsultasi online 30 orang per hari.",
    "Kalau KK dan KTP beda alamat, bagaimana?",
    "NIK saya sudah benar kok, tinggal NPWP yang belum.",
    "Nomor HP saya sudah ganti, bagaimana update di OSS?",
    "Email saya tidak menerima notifikasi, mohon bantuannya.",
    "Tolong jangan kirim NIK lewat chat ya, cukup unggah KTP di portal.",
    "Saya lupa nomor KK, nanti saya foto saja.",
]

_HARD_NEGATIVES = [
    "transfer ke BNI 0234567890 a.n. Dinas PMPTSP",
    "Bayar ke Bank DKI 0812345678 (rekening kas daerah)",
    "kode pembayaran 0812345678901",
    "Nomor referensi 3174051205900003 dari bank",
    "Nilai kontrak 123.456.789,50",
    "Tanggal 08 05 2024 saya sudah datang",
    "Masa kerja 08 tahun",
    "Berkas 0812 dan 0813 sudah diproses",
    "ID billing 0812345678901234",
    "Nomor induk berusaha 0220001234567",
    "SKRD 0812345678/2024/PBG",
    "nomor surat 021/5551234/2024",
]

_SECOND_BATCH_NEGATIVES = [
    "Kami buka kembali tanggal 02.01.2025 pukul 08.00.",
    "Retribusi Rp 3.200.000 dibayar via VA 8808 3174 0512 0590.",
    "Nomor surat saya 800/1205/DPMPTSP/2024, mohon dicek.",
    "Lokasi di Jl. Raya Bogor Km. 30, RT 002 RW 011, Depok 16451.",
    "Lebar jalan 6 m, GSB 3 m, tinggi 14,5 m.",
    "Saya antre nomor 021 di loket 4 sejak 07.45.",
    "SK PBG No. SK-PBG-327604-21052024-0003 sudah bisa diunduh.",
    "Tagihan PBB tahun 2023 sebesar Rp 1.245.000 belum lunas.",
    "NIB 0812240015678 — eh salah, NIB saya 9120210034567.",
    "Berkas ke-3 dari 12 belum diverifikasi sejak 2024-04-30.",
    "Perwal No. 22 Tahun 2021 jo. Perwal No. 7 Tahun 2023",
    "Kode billing DJP 120240600123456 sudah dibayar",
    "Luas bangunan 1.080 m2 di atas tanah 2.400 m2.",
    "Kami tunggu sampai 16.30, setelah itu loket tutup.",
    "Akun IG @dpmptsp.kotabogor memposting jadwal baru",
    "Nomor antrean online: K-0813",
    "SLF berlaku 20 tahun untuk rumah tinggal, 5 tahun untuk bangunan umum.",
    "Kapasitas 2.500 orang, 3 lantai, 1 basement, 40 unit toilet.",
    "Penomoran rumah 1208-1210 satu blok.",
    "Denda 2% per bulan maksimal 24 bulan.",
]

NEGATIVES: list[str] = [
    *_TIMES_AND_DATES,
    *_FEES,
    *_REGULATIONS,
    *_PERMITS_AND_LETTERS,
    *_NIB_AND_BUSINESS,
    *_ADDRESSES,
    *_AREAS_COUNTS_YEARS,
    *_QUEUES_AND_CODES,
    *_PHONE_LIKE,
    *_INVALID_IDENTIFIERS,
    *_EMAIL_LIKE,
    *_CHAT_NUMBERS,
    *_HARD_NEGATIVES,
    *_SECOND_BATCH_NEGATIVES,
]
