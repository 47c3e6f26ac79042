//! The embedded quiz question sets, written for Sova: general knowledge with four
//! choices each, the index of the right one last. A test checks every question
//! has four distinct choices and a right answer among them.

/// A question: its text, four choices, and the index of the right choice.
pub(crate) type Entry = (&'static str, [&'static str; 4], u8);

/// English questions.
pub(crate) const ENGLISH: &[Entry] = &[
    (
        "What is the largest planet in the Solar System?",
        ["Saturn", "Jupiter", "Neptune", "Earth"],
        1,
    ),
    (
        "How many continents are there on Earth?",
        ["Five", "Six", "Seven", "Eight"],
        2,
    ),
    (
        "Which gas do plants absorb from the air for photosynthesis?",
        ["Oxygen", "Nitrogen", "Carbon dioxide", "Helium"],
        2,
    ),
    (
        "What is the capital of Japan?",
        ["Kyoto", "Osaka", "Tokyo", "Nagoya"],
        2,
    ),
    (
        "How many sides does a hexagon have?",
        ["Five", "Six", "Seven", "Eight"],
        1,
    ),
    (
        "Which ocean is the largest?",
        ["Atlantic", "Indian", "Arctic", "Pacific"],
        3,
    ),
    (
        "What is the freezing point of water in degrees Celsius?",
        ["0", "32", "-10", "100"],
        0,
    ),
    (
        "Who wrote \"Romeo and Juliet\"?",
        ["Charles Dickens", "William Shakespeare", "Jane Austen", "Mark Twain"],
        1,
    ),
    (
        "Which planet is known as the Red Planet?",
        ["Venus", "Mercury", "Mars", "Jupiter"],
        2,
    ),
    ("What is 7 × 8?", ["54", "56", "64", "48"], 1),
    (
        "Which animal is the largest mammal?",
        ["Elephant", "Blue whale", "Giraffe", "Hippopotamus"],
        1,
    ),
    ("What is the chemical symbol for gold?", ["Go", "Gd", "Au", "Ag"], 2),
    ("How many minutes are in a day?", ["1240", "1440", "1640", "2400"], 1),
    (
        "Which country is home to the kangaroo?",
        ["Brazil", "South Africa", "India", "Australia"],
        3,
    ),
    (
        "What is the longest river in South America?",
        ["Amazon", "Paraná", "Orinoco", "Magdalena"],
        0,
    ),
    (
        "Which instrument has 88 keys?",
        ["Organ", "Accordion", "Piano", "Harpsichord"],
        2,
    ),
    (
        "What is the boiling point of water at sea level in degrees Celsius?",
        ["90", "100", "110", "212"],
        1,
    ),
    (
        "Which language has the most native speakers?",
        ["English", "Spanish", "Hindi", "Mandarin Chinese"],
        3,
    ),
    (
        "How many players does a football (soccer) team have on the field?",
        ["Nine", "Ten", "Eleven", "Twelve"],
        2,
    ),
    (
        "What is the hardest natural substance?",
        ["Iron", "Quartz", "Diamond", "Granite"],
        2,
    ),
    (
        "Which city is known as the Big Apple?",
        ["Chicago", "New York", "Los Angeles", "Boston"],
        1,
    ),
    ("What is the square root of 144?", ["11", "12", "13", "14"], 1),
    (
        "Which bird is a symbol of wisdom in many tales?",
        ["Owl", "Crow", "Eagle", "Parrot"],
        0,
    ),
    (
        "In which year did humans first land on the Moon?",
        ["1965", "1969", "1972", "1959"],
        1,
    ),
    (
        "What colour do you get by mixing blue and yellow?",
        ["Green", "Purple", "Orange", "Brown"],
        0,
    ),
    ("Which is the smallest prime number?", ["0", "1", "2", "3"], 2),
    (
        "What is the capital of Canada?",
        ["Toronto", "Vancouver", "Montreal", "Ottawa"],
        3,
    ),
    (
        "How many legs does a spider have?",
        ["Six", "Eight", "Ten", "Twelve"],
        1,
    ),
    (
        "Which metal is liquid at room temperature?",
        ["Mercury", "Lead", "Tin", "Zinc"],
        0,
    ),
    (
        "Who painted the Mona Lisa?",
        ["Michelangelo", "Raphael", "Leonardo da Vinci", "Rembrandt"],
        2,
    ),
    (
        "What is the tallest mountain above sea level?",
        ["K2", "Kilimanjaro", "Mont Blanc", "Everest"],
        3,
    ),
    ("How many bits are in a byte?", ["Four", "Eight", "Sixteen", "Ten"], 1),
    (
        "Which organ pumps blood through the body?",
        ["Lungs", "Liver", "Heart", "Kidneys"],
        2,
    ),
    (
        "Which desert is the largest hot desert in the world?",
        ["Gobi", "Sahara", "Kalahari", "Atacama"],
        1,
    ),
    (
        "What is the main language of Brazil?",
        ["Spanish", "Portuguese", "French", "English"],
        1,
    ),
    ("How many degrees are in a right angle?", ["45", "90", "180", "360"], 1),
];

/// Russian questions.
pub(crate) const RUSSIAN: &[Entry] = &[
    (
        "Какая планета самая большая в Солнечной системе?",
        ["Сатурн", "Юпитер", "Нептун", "Земля"],
        1,
    ),
    ("Сколько материков на Земле?", ["Пять", "Шесть", "Семь", "Восемь"], 1),
    (
        "Какая река самая длинная в Европе?",
        ["Дунай", "Днепр", "Волга", "Урал"],
        2,
    ),
    ("Столица Японии?", ["Киото", "Осака", "Токио", "Нагоя"], 2),
    (
        "Сколько сторон у шестиугольника?",
        ["Пять", "Шесть", "Семь", "Восемь"],
        1,
    ),
    (
        "Какой океан самый большой?",
        ["Атлантический", "Индийский", "Северный Ледовитый", "Тихий"],
        3,
    ),
    (
        "При какой температуре замерзает вода (по Цельсию)?",
        ["0", "32", "-10", "100"],
        0,
    ),
    (
        "Кто написал роман «Война и мир»?",
        ["Фёдор Достоевский", "Лев Толстой", "Антон Чехов", "Иван Тургенев"],
        1,
    ),
    (
        "Какую планету называют Красной?",
        ["Венера", "Меркурий", "Марс", "Юпитер"],
        2,
    ),
    ("Сколько будет 7 × 8?", ["54", "56", "64", "48"], 1),
    (
        "Какое животное — самое крупное млекопитающее?",
        ["Слон", "Синий кит", "Жираф", "Бегемот"],
        1,
    ),
    ("Какой химический символ у золота?", ["Go", "Gd", "Au", "Ag"], 2),
    ("Сколько минут в сутках?", ["1240", "1440", "1640", "2400"], 1),
    (
        "Какое озеро самое глубокое в мире?",
        ["Ладожское", "Байкал", "Онежское", "Танганьика"],
        1,
    ),
    (
        "Кто написал «Евгения Онегина»?",
        ["Михаил Лермонтов", "Николай Гоголь", "Александр Пушкин", "Иван Крылов"],
        2,
    ),
    ("Сколько клавиш у стандартного фортепиано?", ["76", "88", "92", "64"], 1),
    (
        "При какой температуре кипит вода на уровне моря (по Цельсию)?",
        ["90", "100", "110", "212"],
        1,
    ),
    (
        "Кто создал периодическую таблицу химических элементов?",
        [
            "Михаил Ломоносов",
            "Дмитрий Менделеев",
            "Иван Павлов",
            "Николай Лобачевский",
        ],
        1,
    ),
    (
        "Сколько игроков футбольной команды одновременно на поле?",
        ["Девять", "Десять", "Одиннадцать", "Двенадцать"],
        2,
    ),
    (
        "Какое природное вещество самое твёрдое?",
        ["Железо", "Кварц", "Алмаз", "Гранит"],
        2,
    ),
    (
        "Кто первым полетел в космос?",
        ["Алексей Леонов", "Юрий Гагарин", "Герман Титов", "Валентина Терешкова"],
        1,
    ),
    ("Чему равен квадратный корень из 144?", ["11", "12", "13", "14"], 1),
    (
        "Какой город был столицей России до Москвы в XVIII–XX веках?",
        ["Казань", "Новгород", "Санкт-Петербург", "Владимир"],
        2,
    ),
    (
        "В каком году человек впервые высадился на Луну?",
        ["1965", "1969", "1972", "1959"],
        1,
    ),
    (
        "Какой цвет получится, если смешать синий и жёлтый?",
        ["Зелёный", "Фиолетовый", "Оранжевый", "Коричневый"],
        0,
    ),
    ("Какое наименьшее простое число?", ["0", "1", "2", "3"], 2),
    (
        "Какая гора самая высокая в России?",
        ["Казбек", "Эльбрус", "Белуха", "Ключевская Сопка"],
        1,
    ),
    ("Сколько ног у паука?", ["Шесть", "Восемь", "Десять", "Двенадцать"], 1),
    (
        "Какой металл при комнатной температуре жидкий?",
        ["Ртуть", "Свинец", "Олово", "Цинк"],
        0,
    ),
    (
        "Кто написал картину «Мона Лиза»?",
        ["Микеланджело", "Рафаэль", "Леонардо да Винчи", "Рембрандт"],
        2,
    ),
    (
        "Какая гора самая высокая над уровнем моря?",
        ["К2", "Килиманджаро", "Монблан", "Эверест"],
        3,
    ),
    (
        "Сколько бит в одном байте?",
        ["Четыре", "Восемь", "Шестнадцать", "Десять"],
        1,
    ),
    (
        "Какой орган перекачивает кровь по телу?",
        ["Лёгкие", "Печень", "Сердце", "Почки"],
        2,
    ),
    (
        "Кто автор сказки «Конёк-Горбунок»?",
        ["Пётр Ершов", "Александр Пушкин", "Павел Бажов", "Корней Чуковский"],
        0,
    ),
    (
        "Сколько часовых поясов в России?",
        ["Семь", "Девять", "Одиннадцать", "Тринадцать"],
        2,
    ),
    ("Сколько градусов в прямом угле?", ["45", "90", "180", "360"], 1),
];
