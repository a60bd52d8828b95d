"""Demo knowledge-base articles and shared canned replies for ``seed_demo``.

Plausible content for a city's one-stop permit office (DPMPTSP), in Indonesian and English, marked
"(demo)" in every title: an office replaces it with its own articles in the Django admin. Seeding
never overwrites an article or reply that already exists (matched by topic and title).
"""

from __future__ import annotations

from typing import Any

from ..models import CannedReply, KnowledgeArticle, Topic

ARTICLES: list[dict[str, Any]] = [
    {
        "topic": "building-approval",
        "title_id": "PBG untuk rumah tinggal (demo)",
        "title_en": "Building approval (PBG) for a family house (demo)",
        "requirements_id": (
            "1. KTP pemohon dan NPWP.\n"
            "2. Bukti kepemilikan tanah (sertifikat) atau perjanjian pemanfaatan tanah.\n"
            "3. Gambar rencana arsitektur (denah, tampak, potongan) dan rencana struktur.\n"
            "4. Keterangan Rencana Kota (KRK) atau KKPR.\n"
            "5. Bukti pembayaran PBB tahun berjalan."
        ),
        "requirements_en": (
            "1. The applicant's ID card (KTP) and tax number (NPWP).\n"
            "2. Proof of land ownership (certificate) or a land-use agreement.\n"
            "3. Architectural drawings (plans, elevations, sections) and structural plans.\n"
            "4. City planning statement (KRK) or spatial-use approval (KKPR).\n"
            "5. Receipt of this year's land and building tax (PBB)."
        ),
        "procedure_id": (
            "1. Daftar dan unggah dokumen di SIMBG (simbg.pu.go.id).\n"
            "2. Verifikasi dokumen oleh petugas DPMPTSP.\n"
            "3. Konsultasi teknis dengan Tim Profesi Ahli (TPA).\n"
            "4. Penetapan dan pembayaran retribusi.\n"
            "5. PBG terbit di SIMBG; pantau status di akun Anda."
        ),
        "procedure_en": (
            "1. Register and upload the documents on SIMBG (simbg.pu.go.id).\n"
            "2. Permit-office staff check the documents.\n"
            "3. Technical consultation with the panel of experts (TPA).\n"
            "4. The levy is assessed and paid.\n"
            "5. The PBG is issued on SIMBG; follow the status in your account."
        ),
        "legal_basis_id": (
            "UU No. 28 Tahun 2002 tentang Bangunan Gedung sebagaimana diubah UU No. 6 Tahun 2023; "
            "PP No. 16 Tahun 2021; Perda Kota tentang Retribusi PBG."
        ),
        "legal_basis_en": (
            "Law 28/2002 on Buildings as amended by Law 6/2023; Government Regulation 16/2021; "
            "the city's bylaw on the PBG levy."
        ),
        "fees_id": (
            "Retribusi PBG = luas bangunan x indeks terintegrasi x harga satuan retribusi. "
            "Rumah tinggal sederhana dapat memperoleh keringanan sesuai Perda."
        ),
        "fees_en": (
            "PBG levy = floor area x integrated index x unit levy rate. Simple family houses may "
            "get a reduction under the city bylaw."
        ),
    },
    {
        "topic": "building-approval",
        "title_id": "Sertifikat Laik Fungsi (SLF) (demo)",
        "title_en": "Certificate of fitness for use (SLF) (demo)",
        "requirements_id": (
            "1. PBG yang sudah terbit.\n"
            "2. Laporan pemeriksaan kelaikan fungsi dari pengkaji teknis.\n"
            "3. Gambar terbangun (as built drawing).\n"
            "4. Surat pernyataan kelaikan fungsi."
        ),
        "requirements_en": (
            "1. The issued PBG.\n"
            "2. A fitness-for-use inspection report by a technical assessor.\n"
            "3. As-built drawings.\n"
            "4. A declaration of fitness for use."
        ),
        "procedure_id": (
            "Ajukan di SIMBG setelah bangunan selesai; petugas memeriksa dokumen dan dapat "
            "melakukan inspeksi lapangan sebelum SLF terbit."
        ),
        "procedure_en": (
            "Apply on SIMBG once the building is finished; staff check the documents and may "
            "inspect the site before the SLF is issued."
        ),
        "legal_basis_id": "PP No. 16 Tahun 2021 tentang Bangunan Gedung.",
        "legal_basis_en": "Government Regulation 16/2021 on Buildings.",
        "fees_id": "Tidak dipungut retribusi untuk penerbitan SLF.",
        "fees_en": "No levy is charged for issuing the SLF.",
    },
    {
        "topic": "business-registration",
        "title_id": "NIB untuk usaha mikro dan kecil (demo)",
        "title_en": "Business identification number (NIB) for micro and small businesses (demo)",
        "requirements_id": (
            "1. NIK (KTP elektronik) dan alamat e-mail aktif.\n"
            "2. NPWP (dapat dibuat sekaligus saat pendaftaran).\n"
            "3. Alamat lokasi usaha dan kode KBLI kegiatan usaha.\n"
            "4. Modal usaha dan jumlah tenaga kerja."
        ),
        "requirements_en": (
            "1. National ID number (e-KTP) and a working e-mail address.\n"
            "2. Tax number NPWP (can be created during registration).\n"
            "3. The business address and the KBLI code of the activity.\n"
            "4. Business capital and number of employees."
        ),
        "procedure_id": (
            "1. Buat akun di oss.go.id.\n"
            "2. Isi data usaha dan pilih KBLI.\n"
            "3. Untuk risiko rendah, NIB langsung terbit dan berlaku sebagai izin usaha.\n"
            "4. Unduh NIB dari akun OSS Anda."
        ),
        "procedure_en": (
            "1. Create an account on oss.go.id.\n"
            "2. Enter the business data and choose the KBLI code.\n"
            "3. For low-risk activities the NIB is issued at once and serves as the licence.\n"
            "4. Download the NIB from your OSS account."
        ),
        "legal_basis_id": (
            "PP No. 5 Tahun 2021 tentang Penyelenggaraan Perizinan Berusaha Berbasis Risiko."
        ),
        "legal_basis_en": "Government Regulation 5/2021 on risk-based business licensing.",
        "fees_id": "Gratis: penerbitan NIB tidak dipungut biaya.",
        "fees_en": "Free: no fee is charged for the NIB.",
    },
    {
        "topic": "health-permit",
        "title_id": "Sertifikat Laik Higiene Sanitasi (SLHS) jasa boga (demo)",
        "title_en": "Hygiene and sanitation certificate (SLHS) for caterers (demo)",
        "requirements_id": (
            "1. NIB usaha jasa boga.\n"
            "2. Sertifikat kursus penjamah pangan bagi penanggung jawab dan karyawan.\n"
            "3. Hasil uji laboratorium sampel makanan dan air bersih.\n"
            "4. Denah dapur dan foto sarana sanitasi."
        ),
        "requirements_en": (
            "1. The caterer's NIB.\n"
            "2. Food-handler course certificates for the manager and staff.\n"
            "3. Laboratory results for food and clean-water samples.\n"
            "4. A kitchen plan and photos of the sanitation facilities."
        ),
        "procedure_id": (
            "Ajukan melalui OSS; Dinas Kesehatan melakukan inspeksi kesehatan lingkungan; "
            "sertifikat terbit bila hasil inspeksi memenuhi syarat."
        ),
        "procedure_en": (
            "Apply through OSS; the health office inspects the premises; the certificate is "
            "issued when the inspection is passed."
        ),
        "legal_basis_id": (
            "Permenkes No. 14 Tahun 2021; Permenkes No. 1096/MENKES/PER/VI/2011 tentang Higiene "
            "Sanitasi Jasaboga."
        ),
        "legal_basis_en": (
            "Health Minister Regulation 14/2021; Health Minister Regulation 1096/2011 on "
            "catering hygiene and sanitation."
        ),
        "fees_id": "Biaya uji laboratorium sesuai tarif laboratorium; penerbitan SLHS gratis.",
        "fees_en": "Laboratory tests at the laboratory's rates; issuing the SLHS is free.",
    },
    {
        "topic": "environment-permit",
        "title_id": "SPPL dan UKL-UPL (persetujuan lingkungan) (demo)",
        "title_en": "SPPL and UKL-UPL (environmental approval) (demo)",
        "requirements_id": (
            "1. NIB dan KKPR.\n"
            "2. Untuk usaha berdampak kecil: Surat Pernyataan Kesanggupan Pengelolaan "
            "Lingkungan (SPPL).\n"
            "3. Untuk usaha berdampak sedang: dokumen UKL-UPL yang disusun sesuai format."
        ),
        "requirements_en": (
            "1. NIB and spatial-use approval (KKPR).\n"
            "2. Low-impact businesses: a statement of environmental management commitment "
            "(SPPL).\n"
            "3. Medium-impact businesses: a UKL-UPL document in the prescribed format."
        ),
        "procedure_id": (
            "SPPL diisi langsung di OSS. UKL-UPL diajukan melalui Amdalnet, diperiksa Dinas "
            "Lingkungan Hidup, lalu persetujuan lingkungan terbit."
        ),
        "procedure_en": (
            "The SPPL is filled in directly on OSS. A UKL-UPL is submitted on Amdalnet, "
            "reviewed by the environment office, and the approval is then issued."
        ),
        "legal_basis_id": (
            "PP No. 22 Tahun 2021 tentang Penyelenggaraan Perlindungan dan Pengelolaan "
            "Lingkungan Hidup."
        ),
        "legal_basis_en": "Government Regulation 22/2021 on environmental protection.",
        "fees_id": "Tidak dipungut biaya oleh DPMPTSP.",
        "fees_en": "The permit office charges no fee.",
    },
    {
        "topic": "non-permit-letters",
        "title_id": "Surat Keterangan Penelitian (demo)",
        "title_en": "Research permission letter (demo)",
        "requirements_id": (
            "1. Surat pengantar dari perguruan tinggi atau lembaga.\n"
            "2. Proposal penelitian.\n"
            "3. KTP peneliti.\n"
            "4. Daftar lokasi penelitian."
        ),
        "requirements_en": (
            "1. A cover letter from the university or institution.\n"
            "2. The research proposal.\n"
            "3. The researcher's ID card.\n"
            "4. A list of research locations."
        ),
        "procedure_id": (
            "Ajukan secara daring atau di loket; surat terbit paling lama 5 hari kerja setelah "
            "berkas lengkap."
        ),
        "procedure_en": (
            "Apply online or at the counter; the letter is issued within 5 working days of a "
            "complete file."
        ),
        "legal_basis_id": (
            "Permendagri No. 3 Tahun 2018 tentang Penerbitan Surat Keterangan Penelitian."
        ),
        "legal_basis_en": "Home Affairs Minister Regulation 3/2018 on research letters.",
        "fees_id": "Gratis.",
        "fees_en": "Free.",
    },
]

SHARED_REPLIES: list[dict[str, str]] = [
    {
        "title": "Salam pembuka (demo)",
        "language": "id",
        "text": "Selamat datang di layanan konsultasi DPMPTSP. Ada yang bisa kami bantu?",
    },
    {
        "title": "Opening greeting (demo)",
        "language": "en",
        "text": "Welcome to the permit office's consultation service. How can we help you?",
    },
    {
        "title": "Mohon tunggu (demo)",
        "language": "id",
        "text": "Mohon tunggu sebentar, kami periksa dulu informasinya.",
    },
    {
        "title": "One moment (demo)",
        "language": "en",
        "text": "One moment please, I am checking that for you.",
    },
    {
        "title": "Penutup (demo)",
        "language": "id",
        "text": "Terima kasih telah menghubungi kami. Semoga permohonan Anda lancar.",
    },
]


def knowledge_demo_seed() -> tuple[int, int]:
    """Create the demo articles (for topics that exist) and shared replies that are missing;
    returns how many of each were created."""
    topics = {topic.code: topic for topic in Topic.objects.all()}
    articles = 0
    for order, article in enumerate(ARTICLES):
        topic = topics.get(article["topic"])
        if topic is None:
            continue
        fields = {k: v for k, v in article.items() if k not in ("topic", "title_id")}
        _, created = KnowledgeArticle.objects.get_or_create(
            topic=topic, title_id=article["title_id"], defaults={**fields, "order": order}
        )
        articles += created
    replies = 0
    for reply in SHARED_REPLIES:
        _, created = CannedReply.objects.get_or_create(
            owner=None,
            title=reply["title"],
            defaults={"text": reply["text"], "language": reply["language"]},
        )
        replies += created
    return articles, replies
