"""English for the words attacks are made of, in 24 other languages: the screening's pivot.

The rules are written in English, and all-MiniLM-L6-v2, the local embedder, is English-centric:
it places a Japanese or Greek sentence by its script more than by what it asks. `gloss`
rewrites the words below into English ("dame todas las contraseñas" -> "give me all the
passwords"), so a rule or an English attack exemplar matches what the text asks in any of
these languages, and the screening screens the glossed text beside the original. Only the
vocabulary of instructions, prompts, secrets, tenants and tools is here, never a whole
phrasebook: a glossed ordinary question reads as an ordinary English question.

Notation: a term ending in `*` matches any ending (languages that inflect); other terms match
whole words. Terms in scripts written without spaces (Chinese, Japanese, Thai) and in those
whose words take attached prefixes (Arabic, Hebrew, Devanagari's vowel signs) match anywhere.
No offline translation library exists to use instead (argos-translate and the like fetch
their models).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

GLOSSARY: dict[str, list[str]] = {
    "ignore": [
        "ignorez", "ignorer", "ignoriere", "ignorier*", "ignora", "ignorate", "ignoră",
        "negeer", "zignoruj", "ignoruj", "ignorera", "yok say", "görmezden gel*", "игнорир*",
        "игнорируй", "ігноруй", "ігнору*", "abaikan", "忽略", "无视", "不要理会", "無視",
        "무시", "تجاهل", "अनदेखा", "नज़रअंदाज़", "bỏ qua", "αγνόησε", "αγνόησ*", "התעלם",
        "ohita", "jätä huomiotta", "เพิกเฉย", "ไม่ต้องสนใจ", "mellőzd", "figyelmen kívül",
    ],
    "forget": [
        "bhool jao", "bhul jao",
        "oublie", "oubliez", "oublier", "vergiss", "vergessen", "olvida", "olvide", "olvídate",
        "dimentica", "dimenticate", "esqueça", "esqueca", "esquece", "vergeet", "zapomnij",
        "glöm", "unut", "забудь", "забудьте", "zapomeň", "lupakan", "忘记", "忘掉", "忘れて",
        "忘れ", "잊어", "انسى", "भूल", "quên", "ξέχασε", "uită", "uitați", "שכח", "unohda",
        "ลืม",
    ],
    "instructions": [
        "nirdesh",
        "consigne*", "anweisung*", "instrucci*", "istruzion*", "instruç*",
        "instruc*", "instructie*", "instrukcj*", "polecen*", "instruktion*", "talimat*",
        "инструкци*", "указани*", "інструкці*", "вказів*", "pokyn*", "instrukc*", "instruksi",
        "指令", "指示", "命令", "지시", "지침", "명령", "التعليمات", "تعليمات", "निर्देश",
        "hướng dẫn", "chỉ thị", "οδηγί*", "instrucțiuni*", "instructiuni*", "הוראות",
        "ohjee*", "ohjeet", "คำสั่ง", "utasítás*",
    ],
    "rules": [
        "niyam",
        "règle*", "regle*", "regel*", "regla*", "normas", "regol*", "regra*", "zasad*",
        "reguł*", "regler*", "kural*", "правил*", "pravidl*", "aturan*", "规则", "规定",
        "ルール", "規則", "규칙", "القواعد", "قواعد", "नियम", "quy tắc", "κανόν*", "reguli*",
        "regulile", "כללים", "sääntö*", "säänn*", "กฎ", "szabály*",
    ],
    "restrictions": [
        "einschränkung*", "beschränkung*", "restricci*", "restrizion*",
        "restriç*", "restric*", "beperking*", "ograniczeni*", "begränsning*", "kısıtlama*",
        "ограничени*", "обмеженн*", "omezení", "batasan", "pembatasan", "限制", "制限", "제한",
        "القيود", "قيود", "प्रतिबंध", "hạn chế", "περιορισμ*", "restricți*", "הגבלות",
        "rajoitu*", "ข้อจำกัด", "korlátoz*",
    ],
    "filter": [
        "filtre*", "filtro*", "filtr*", "фильтр*", "фільтр*", "过滤", "フィルター", "필터",
        "مرشح", "الفلتر", "फ़िल्टर", "bộ lọc", "φίλτρ*", "מסנן", "suodat*", "ตัวกรอง",
    ],
    "system": [
        "système", "systeme", "sistema", "systeem", "systemow*", "sistem", "системн*",
        "systémov*", "系统", "システム", "시스템", "النظام", "सिस्टम", "hệ thống", "συστήματος",
        "מערכת", "järjestelmä*", "ระบบ", "rendszer*",
    ],
    "prompt": [
        "промпт*", "プロンプト", "프롬프트", "提示词", "提示", "موجه", "प्रॉम्प्ट", "lời nhắc",
        "προτροπή", "הנחיית", "פרומפט", "kehote", "พรอมต์", "monit",
    ],
    "hidden": [
        "caché*", "cachee*", "versteckt*", "oculta*", "oculto*", "nascost*", "verborgen",
        "ukryt*", "dold*", "gizli", "скрыт*", "прихован*", "skryt*", "tersembunyi", "隐藏",
        "隠された", "隠し", "숨겨진", "المخفية", "مخفي*", "छिपे", "छिपी", "ẩn", "κρυφ*",
        "ascuns*", "נסתר*", "piilotet*", "ที่ซ่อน", "rejtett",
    ],
    "secret": [
        "secrète*", "geheim*", "secreto*", "secreta*", "segret*", "sigilo*",
        "tajn*", "hemlig*", "секрет*", "таємн*", "rahasia", "秘密", "机密", "비밀", "سري*",
        "गुप्त", "bí mật", "μυστικ*", "סוד*", "salai*", "ความลับ", "titk*",
    ],
    "show me": [
        "montre-moi", "montrez-moi", "zeig mir", "zeige mir", "muéstrame", "muestrame",
        "enséñame", "mostrami", "mostre-me", "mostra-me", "laat me zien", "pokaż mi",
        "visa mig", "bana göster", "покажи мне", "покажіть мені", "ukaž mi", "tunjukkan",
        "给我看", "見せて", "보여주세요", "보여 주세요", "보여줘",
        "보여 줘", "أرني", "दिखाओ", "दिखाइए", "cho tôi xem",
        "δείξε μου", "arată-mi", "תראה לי", "näytä minulle", "แสดงให้ดู", "mutasd meg",
    ],
    "show": [
        "dikhao", "dikhaiye", "dikhaao",
        "montre", "montrez", "affiche*", "zeig", "zeige", "muestra", "mostra", "mostre",
        "toon", "pokaż", "wyświetl", "visa", "göster", "покажи", "покажіть", "ukaž", "zobraz",
        "tampilkan", "显示", "展示", "表示して", "보여", "اعرض", "أظهر", "दिखा", "hiển thị",
        "δείξε", "arată", "הצג", "näytä", "แสดง", "mutasd",
    ],
    "reveal": [
        "révèle", "révélez", "verrate", "offenbare", "revela", "revele", "rivela", "onthul",
        "ujawnij", "avslöja", "açıkla", "раскрой", "розкрий", "odhal", "ungkapkan", "透露",
        "泄露", "公开", "明かして", "공개", "اكشف", "प्रकट", "tiết lộ", "αποκάλυψε",
        "dezvăluie", "חשוף", "גלה", "paljasta", "เปิดเผย", "fedd fel",
    ],
    "give me": [
        "donne-moi", "donnez-moi", "gib mir", "geben sie mir", "dame", "deme", "dammi",
        "mi dia", "me dê", "geef me", "geef mij", "daj mi", "podaj mi", "ge mig",
        "bana ver", "дай мне", "дайте мне", "дай мені", "дайте мені", "dej mi", "dejte mi",
        "berikan saya", "beri saya", "给我", "ください", "줘", "أعطني", "मुझे दो", "दीजिए",
        "đưa cho tôi", "cho tôi", "δώσε μου", "dă-mi", "תן לי", "anna minulle", "ให้ฉัน",
        "add meg",
    ],
    "tell me": [
        "batao", "bataiye", "bataao",
        "dis-moi", "dites-moi", "sag mir", "sagen sie mir", "dime", "dígame", "dimmi",
        "diga-me", "me diga", "vertel me", "powiedz mi", "berätta", "söyle", "скажи",
        "скажіть", "řekni mi", "beri tahu", "告诉我",
        "教えて", "알려주세요", "알려 주세요", "알려줘", "알려 줘",
        "nenne mir", "nennen", "أخبرني",
        "बताओ", "बताइए", "बताएं", "nói cho tôi", "πες μου", "spune-mi", "תגיד לי",
        "kerro minulle", "บอก", "mondd meg",
    ],
    "print": [
        "imprime", "stampa", "druck*", "vypiš", "wypisz", "выведи", "виведи", "输出", "打印",
        "出力", "출력", "اطبع", "प्रिंट", "in ra", "εκτύπωσε", "tipărește", "הדפס", "tulosta",
    ],
    "list": ["liste", "listez", "enumera", "elenca", "lista", "wymień", "перечисли", "перелічи",
             "列出", "一覧", "나열", "اذكر", "सूची"],
    "repeat": [
        "répète", "répétez", "wiederhole", "repite", "ripeti", "repita", "herhaal", "powtórz",
        "upprepa", "tekrarla", "повтори", "zopakuj", "ulangi", "重复", "繰り返", "반복",
        "كرر", "दोहराओ", "lặp lại", "επανάλαβε", "repetă", "חזור על", "toista",
    ],
    "password": [
        "mot de passe", "mots de passe", "passwort*", "kennwort*", "contraseña*", "contrasena*",
        "senha*", "wachtwoord*", "hasł*", "hasło", "lösenord*", "şifre*", "parola d'ordine",
        "parolası", "parolayı", "parolalar*", "parolele",
        "парол*", "hesl*", "kata sandi", "密码", "パスワード", "비밀번호", "암호",
        "كلمة المرور", "كلمات المرور", "पासवर्ड", "mật khẩu", "κωδικ*", "סיסמ", "salasan*",
        "รหัสผ่าน", "jelszó*", "jelszav*",
    ],
    "keys": [
        "clé", "clés", "cle", "cles", "schlüssel*", "clave", "claves", "chiave", "chiavi",
        "chave", "chaves", "sleutel*", "klucz*", "nyckel*", "nycklar*", "anahtar*", "ключ*",
        "klíč*", "kunci", "密钥", "秘钥", "キー", "api 키", "키를", "키가", "키는", "مفتاح",
        "مفاتيح",
        "कुंजी", "khóa",
        "κλειδ*", "cheie", "cheile", "chei", "מפתח*", "avain*", "avaimet", "คีย์", "kulcs*",
    ],
    "tokens": ["jeton*", "токен*", "トークン", "토큰", "令牌", "توكن", "टोकन", "טוקן*"],
    "credentials": [
        "identifiants", "zugangsdaten", "anmeldedaten", "credenciales", "credenziali",
        "credenciais", "inloggegevens", "poświadcze*", "inloggningsuppgifter",
        "kimlik bilgileri", "учётные данные", "учетные данные", "облікові дані",
        "přihlašovací údaje", "kredensial", "凭证", "凭据", "認証情報", "자격 증명",
        "بيانات الاعتماد", "क्रेडेंशियल", "thông tin đăng nhập", "διαπιστευτήρια",
        "credențial*", "אישורי", "tunnistetie*", "hitelesítő adat*",
    ],
    "environment variables": [
        "variables d'environnement", "umgebungsvariable*", "variables de entorno",
        "variables de ambiente", "variabili d'ambiente", "variabili di ambiente",
        "variáveis de ambiente", "variaveis de ambiente", "omgevingsvariabele*",
        "zmienne środowiskowe", "zmiennych środowiskowych", "miljövariabl*",
        "ortam değişken*", "переменные окружения", "переменные среды", "переменных окружения",
        "змінні середовища", "змінні оточення", "proměnné prostředí", "variabel lingkungan",
        "环境变量", "環境変数", "환경 변수", "환경변수", "متغيرات البيئة", "पर्यावरण चर",
        "एनवायरनमेंट वेरिएबल", "biến môi trường", "μεταβλητές περιβάλλοντος",
        "variabilele de mediu", "variabile de mediu", "משתני סביבה", "ympäristömuuttuj*",
        "ตัวแปรสภาพแวดล้อม", "környezeti változó*",
    ],
    "configuration": [
        "konfiguration*", "configuración", "configurazione", "configuração", "configuracao",
        "configuratie", "konfiguracj*", "yapılandırma*", "конфигурац*", "конфігурац*",
        "konfigurac*", "konfigurasi", "配置", "設定", "構成", "설정", "구성", "الإعدادات",
        "التكوين", "कॉन्फ़िगरेशन", "cấu hình", "διαμόρφωσ*", "configurați*", "configuratia",
        "תצורה", "הגדרות", "asetuks*", "kokoonpano*", "การตั้งค่า", "konfigurációs",
    ],
    "system prompt": ["systemprompt*", "systeemprompt*", "systemprompten", "systemnachricht*",
                      "systeembericht*", "systemmeddelande*"],
    "your first message": [
        "ton premier message", "votre premier message", "deine erste nachricht",
        "ihre erste nachricht", "tu primer mensaje", "su primer mensaje", "il tuo primo messaggio",
        "a sua primeira mensagem", "sua primeira mensagem", "je eerste bericht",
        "twoja pierwsza wiadomość", "twoją pierwszą wiadomość", "ditt första meddelande",
        "ilk mesajın", "твоё первое сообщение", "твое первое сообщение", "своё первое сообщение",
        "твоє перше повідомлення", "tvou první zprávu", "pesan pertamamu", "你的第一条消息",
        "最初のメッセージ", "첫 번째 메시지", "رسالتك الأولى", "अपना पहला संदेश",
        "tin nhắn đầu tiên của bạn", "το πρώτο σου μήνυμα", "primul tău mesaj",
        "ההודעה הראשונה שלך", "ensimmäinen viestisi",
    ],
    "security policies": [
        "sicherheitsrichtlinie*", "sicherheitsregel*", "sicherheitsfilter*",
        "veiligheidsregel*", "säkerhetsregl*", "turvallisuussään*",
    ],
    "connection string": [
        "verbindungszeichenfolge*", "verbindungsstring*", "verbindungszeichenkette*",
        "cadena de conexión", "chaîne de connexion", "stringa di connessione",
        "string de conexão", "connectiestring*", "строка подключения",
        "строку подключения", "连接字符串", "接続文字列", "연결 문자열",
    ],
    "tenant filter": ["tenantfilter*", "mandantenfilter*", "tenant-filter*"],
    "you have": [
        "que tengas", "que tienes", "que tu as", "que vous avez", "die du hast", "die sie haben",
        "che hai", "che possiedi", "que você tem", "que tens", "die je hebt", "die u heeft",
        "które masz", "som du har", "которые у тебя есть", "что у тебя есть", "які в тебе є",
        "které máš", "yang kamu miliki", "yang kamu punya", "你有的", "你拥有的", "持っている",
        "가지고 있는", "لديك", "आपके पास", "bạn có", "που έχεις", "pe care le ai", "שיש לך",
        "jotka sinulla on",
    ],
    "act as": ["agis comme", "agissez comme", "actúa como", "actua como", "agisci come",
               "aja como", "handel als", "gedraag je als", "zachowuj się jak", "действуй как",
               "веди себя как", "поводься як", "chovej se jako", "bertindaklah sebagai",
               "davran", "hãy đóng vai", "comportă-te ca", "התנהג כמו", "toimi kuin"],
    "tenant": [
        "locataire*", "mandant*", "inquilino*", "locatário*", "huurder*", "najemc*",
        "арендатор*", "тенант*", "орендар*", "nájemc*", "penyewa", "租户", "テナント",
        "테넌트", "المستأجر*", "टेनेंट", "người thuê", "ενοικιαστ*", "chiriaș*", "דייר*",
        "vuokralai*", "ผู้เช่า", "bérlő*",
    ],
    "isolation": [
        "isolement", "isolierung", "aislamiento", "isolamento", "isolatie", "izolacj*",
        "isolering*", "izolasyon*", "изоляци*", "ізоляці*", "izolac*", "isolasi", "隔离",
        "分離", "격리", "العزل", "अलगाव", "cô lập", "απομόνωσ*", "izolare", "בידוד",
        "eristy*", "การแยก", "elkülönít*",
    ],
    "customers": [
        "kunden", "clientes", "clienti", "klanten", "klientów", "klienci", "kunder*",
        "müşteri*", "клиент*", "клієнт*", "zákazník*", "klient*", "pelanggan", "客户", "顧客",
        "お客様", "고객", "العملاء", "ग्राहक*", "khách hàng", "πελατ*", "clienți*", "clientii",
        "לקוחות", "asiakka*", "ลูกค้า", "ügyfel*",
    ],
    "companies": [
        "entreprises", "sociétés", "firmen", "unternehmen", "empresas",
        "organizaciones", "aziende", "società", "organizzazioni", "organizações", "bedrijven",
        "organisaties", "firmy", "organizacji", "företag*", "şirket*", "компани*", "організаці*",
        "firem", "společnost*", "perusahaan", "organisasi", "公司", "企業", "他社", "회사",
        "الشركات", "कंपनि*", "công ty", "εταιρει*", "companii*", "חברות", "yritys*",
        "yritykse*", "บริษัท", "cég*",
    ],
    "other": [
        "autres", "autre", "anderer", "anderen", "andere", "otros", "otras", "otro", "altri",
        "altre", "outros", "outras", "innych", "inne", "andra", "diğer", "başka", "других",
        "другие", "чужие", "чужих", "інших", "інші", "чужі", "jiných", "ostatních", "lain",
        "其他", "别的", "他の", "다른", "الآخرين", "أخرى", "الأخرى", "अन्य", "दूसरे", "khác",
        "άλλων", "άλλους", "altor", "alți", "אחרים", "muiden", "อื่น", "többi",
    ],
    "all": [
        "saare", "sabhi",
        "tous", "toutes", "alle", "alles", "todos", "todas", "tutti", "tutte", "tutto",
        "wszystkie", "wszystko", "alla", "allt", "tüm", "bütün", "все", "всё", "всех", "усі",
        "всі", "všechny", "vše", "semua", "seluruh", "所有", "全部", "一切", "すべて", "全て",
        "모든", "모두", "전부", "جميع", "كل شيء", "सभी", "सारे", "tất cả", "mọi", "όλα", "όλες",
        "όλους",
        "όλων", "toate", "kaikki", "ทั้งหมด", "összes",
    ],
    "previous": [
        "pichle", "pichhle",
        "précédente*", "précédent*", "antérieure*", "vorherige*", "bisherige*", "anterior*",
        "precedent*", "vorige", "eerdere", "poprzedn*", "tidigare", "föregående", "önceki",
        "предыдущ*", "прежн*", "попередн*", "předchozí*", "sebelumnya", "之前", "以前",
        "先前", "以前の", "이전", "السابقة", "पिछले", "trước đó", "προηγούμεν*",
        "anterioare", "הקודמות", "הקודמים", "aiemm*", "edelli*", "ก่อนหน้า", "korábbi*",
    ],
    "documents": [
        "dokumente*", "documentos", "documenti", "documenten", "dokument*",
        "belge*", "doküman*", "документ*", "dokumen", "文档", "文件", "ドキュメント", "文書",
        "문서", "المستندات", "الوثائق", "दस्तावेज़*", "tài liệu", "έγγραφ*", "documente*",
        "מסמכים", "asiakirj*", "เอกสาร", "dokumentum*",
    ],
    "send": [
        "bhejo", "bhejiye",
        "envoie", "envoyez", "envoyer", "sende", "schicke", "schick", "envía", "envia",
        "envíe", "invia", "manda", "envie", "stuur", "wyślij", "skicka", "gönder", "отправь",
        "отправьте", "пошли", "надішли", "відправ", "pošli", "odešli", "kirim", "kirimkan",
        "发送", "发到", "送信", "送って", "보내", "أرسل", "भेजो", "भेजें", "gửi", "στείλε",
        "trimite", "שלח", "lähetä", "ส่ง", "küldd",
    ],
    "disable": [
        "désactive*", "deaktivier*", "desactiva*", "disattiva*", "desative", "desativa*",
        "uitschakel*", "wyłącz*", "inaktivera", "stäng av", "devre dışı", "kapat",
        "отключи*", "выключи*", "вимкни", "відключи", "vypni", "vypnout", "nonaktifkan",
        "matikan", "关闭", "禁用", "無効", "オフにして", "비활성화", "꺼줘", "꺼 줘", "عطل", "أوقف",
        "बंद करो", "बंद करें", "अक्षम", "tắt", "vô hiệu hóa", "απενεργοποίησ*",
        "dezactivează", "dezactiveaza", "השבת", "כבה", "poista käytöstä", "ปิดการใช้งาน",
        "kapcsold ki",
    ],
    "pretend": [
        "fais semblant", "faites semblant", "prétends", "tu so, als", "tu so als",
        "finge", "fingi", "fai finta", "finja", "doe alsof", "udawaj", "låtsas",
        "gibi davran", "притворись", "притворитесь", "вдавай", "удавай", "předstírej",
        "berpura-pura", "假装", "扮演", "ふりをして", "演じて", "척해", "연기해", "تظاهر",
        "नाटक करो", "giả vờ", "đóng vai", "προσποιήσου", "prefă-te", "העמד פנים",
        "תעמיד פנים", "teeskentele", "แกล้งทำ", "tégy úgy",
    ],
    "without": [
        "sans", "ohne", "sin", "senza", "sem", "zonder", "bez", "utan", "olmadan", "без",
        "tanpa", "没有", "なしで", "없는", "없이", "بدون", "बिना", "không có",
        "χωρίς", "fără", "ללא", "ilman", "ไม่มี", "nélkül",
    ],
    "developer": [
        "développeur*", "entwickler*", "desarrollador*", "sviluppator*", "desenvolvedor*",
        "ontwikkelaar*", "programist*", "utvecklar*", "geliştirici*", "разработчик*",
        "розробник*", "vývojář*", "pengembang", "开发者", "开发人员", "開発者", "개발자",
        "المطور*", "डेवलपर", "nhà phát triển", "προγραμματιστ*", "dezvoltator*", "מפתח",
        "kehittäj*", "นักพัฒนา", "fejlesztő*",
    ],
    "administrator": [
        "administrateur*", "administrador*", "amministrator*", "beheerder*", "administrat*",
        "yönetici*", "администратор*", "адміністратор*", "管理员", "管理者", "관리자",
        "المسؤول", "व्यवस्थापक", "quản trị viên", "διαχειριστ*", "מנהל*", "ylläpitäj*",
        "ผู้ดูแลระบบ", "rendszergazda*",
    ],
    "mode": ["modo", "modus", "режим*", "モード", "모드", "模式", "وضع", "मोड", "chế độ",
             "λειτουργία", "מצב", "tila", "โหมด", "mód"],
    "unrestricted": ["sans restriction*", "uneingeschränkt*", "sin restricciones",
                     "senza restrizioni", "sem restrições", "zonder beperkingen",
                     "bez ograniczeń", "без ограничений", "без обмежень", "无限制", "制限なし",
                     "제한 없는", "بلا قيود", "कोई प्रतिबंध नहीं"],
    "the AI": ["l'ia", "ki", "la ia", "a ia", "sztuczna inteligencja", "ии", "штучний інтелект",
               "人工智能", "ai助手", "人工知能", "인공지능", "الذكاء الاصطناعي", "एआई",
               "τεχνητή νοημοσύνη"],
    "data": ["données", "daten", "datos", "dati", "dados", "gegevens", "dane", "данные",
             "дані", "údaje", "数据", "データ", "데이터", "البيانات", "डेटा", "dữ liệu",
             "δεδομένα", "datele", "נתונים", "tiedot", "ข้อมูล", "adatok"],
}  # fmt: skip

# Scripts written without spaces between words, or whose words take attached particles and
# prefixes (Korean, Arabic, Hebrew) or vowel signs `\w` does not count as letters (Devanagari):
# their terms match anywhere in the text.
_UNSPACED = re.compile(
    "[\u0590-\u06ff\u0900-\u097f\u0e00-\u0e7f\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]"
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class _Index:
    """The glossary arranged for one pass over a text's words."""

    phrases: dict[str, list[tuple[tuple[str, ...], bool, str]]]  # first word -> longest first
    stems: dict[str, str]  # one-word terms that take any ending
    stem_lengths: tuple[int, ...]
    unspaced: re.Pattern[str] | None
    unspaced_english: dict[str, str]


@functools.cache
def _index() -> _Index:
    phrases: dict[str, list[tuple[tuple[str, ...], bool, str]]] = {}
    stems: dict[str, str] = {}
    unspaced: dict[str, str] = {}
    for meaning, terms in GLOSSARY.items():
        for term in terms:
            stem, body = term.endswith("*"), term.rstrip("*").casefold()
            if _UNSPACED.search(body):
                unspaced.setdefault(body, meaning)
                continue
            words = tuple(_WORD.findall(body))
            if stem and len(words) == 1:
                stems.setdefault(words[0], meaning)
            else:
                phrases.setdefault(words[0], []).append((words, stem, meaning))
    for candidates in phrases.values():
        candidates.sort(key=lambda c: len(c[0]), reverse=True)
    # Longest first, so "mots de passe" wins over "passe" and "给我看" over "给我".
    ordered = sorted(unspaced, key=len, reverse=True)
    pattern = re.compile("|".join(map(re.escape, ordered)), re.IGNORECASE) if ordered else None
    lengths = tuple(sorted({len(s) for s in stems}, reverse=True))
    return _Index(phrases, stems, lengths, pattern, unspaced)


def _match(words: list[str], i: int, index: _Index) -> tuple[int, str] | None:
    """How many words from `i` on a term covers, and its English."""
    for terms, stem, meaning in index.phrases.get(words[i], ()):
        n = len(terms)
        tail = words[i : i + n]
        if (
            len(tail) == n
            and tail[:-1] == list(terms[:-1])
            and (tail[-1] == terms[-1] or (stem and tail[-1].startswith(terms[-1])))
        ):
            return n, meaning
    word = words[i]
    for length in index.stem_lengths:
        english = index.stems.get(word[:length]) if len(word) >= length else None
        if english:
            return 1, english
    return None


def gloss(text: str) -> str:
    """The text with each glossary word replaced by its English, spaced as English words;
    the text itself when none occurs (English stays as written)."""
    index, original = _index(), text
    if index.unspaced is not None and _UNSPACED.search(text):
        english = index.unspaced_english
        text = index.unspaced.sub(lambda m: f" {english[m.group(0).casefold()]} ", text)
    found = list(_WORD.finditer(text))
    words = [m.group(0).casefold() for m in found]
    out, done, i = [], 0, 0
    while i < len(words):
        hit = _match(words, i, index)
        if hit is None:
            i += 1
            continue
        n, meaning = hit
        out.append(text[done : found[i].start()])
        out.append(f" {meaning} ")
        done, i = found[i + n - 1].end(), i + n
    if not out and text == original:
        return original
    out.append(text[done:])
    return re.sub(r" {2,}", " ", "".join(out)).strip()
